package dnssrv

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/ntpbox/ntpbox/internal/backoff"
)

// PaceReadErrors is a dns.Server DecorateReader for UDP: a read that
// fails with anything but a timeout or a closed socket (ENOMEM, say)
// waits, 5 ms doubling to 1 s, before miekg/dns sees the error. Its UDP
// loop retries a "temporary" error at once and gives up on any other,
// so without this it would spin on one and stop serving on the other
// (then startDNS's loop serves again, also paced). Each wait is logged.
func PaceReadErrors(log *slog.Logger) func(dns.Reader) dns.Reader {
	return func(r dns.Reader) dns.Reader {
		p := &pacedReader{Reader: r, log: log}
		if pc, ok := r.(dns.PacketConnReader); ok {
			p.pc = pc
		}
		return p
	}
}

type pacedReader struct {
	dns.Reader
	pc  dns.PacketConnReader
	log *slog.Logger
	mu  sync.Mutex
	b   backoff.Backoff
}

func (p *pacedReader) ReadUDP(conn *net.UDPConn, timeout time.Duration) ([]byte, *dns.SessionUDP, error) {
	m, s, err := p.Reader.ReadUDP(conn, timeout)
	p.pace(err)
	return m, s, err
}

func (p *pacedReader) ReadPacketConn(conn net.PacketConn, timeout time.Duration) ([]byte, net.Addr, error) {
	if p.pc == nil {
		return nil, nil, errors.New("dnssrv: the reader cannot read a net.PacketConn")
	}
	m, a, err := p.pc.ReadPacketConn(conn, timeout)
	p.pace(err)
	return m, a, err
}

func (p *pacedReader) pace(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil || errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded) {
		p.b.Reset()
		return
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return
	}
	d := p.b.Next()
	p.log.Warn("dns: udp read", "err", err, "retry_in", d)
	time.Sleep(d)
}
