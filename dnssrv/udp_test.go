package dnssrv

import (
	"bytes"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

type scriptReader struct {
	errs []error
}

func (r *scriptReader) ReadTCP(net.Conn, time.Duration) ([]byte, error) { return nil, nil }

func (r *scriptReader) ReadUDP(*net.UDPConn, time.Duration) ([]byte, *dns.SessionUDP, error) {
	err := r.errs[0]
	r.errs = r.errs[1:]
	return nil, nil, err
}

func (r *scriptReader) ReadPacketConn(net.PacketConn, time.Duration) ([]byte, net.Addr, error) {
	_, _, err := r.ReadUDP(nil, 0)
	return nil, nil, err
}

// A read error is handed on after a wait that doubles (5, 10, 20 ms);
// timeouts (miekg/dns reads with a deadline) and success are not
// delayed, and a success starts the doubling over.
func TestPaceReadErrors(t *testing.T) {
	var logBuf bytes.Buffer
	sr := &scriptReader{errs: []error{syscall.ENOMEM, syscall.ENOBUFS, syscall.EIO, os.ErrDeadlineExceeded, nil, syscall.ENOMEM}}
	r := PaceReadErrors(slog.New(slog.NewTextHandler(&logBuf, nil)))(sr)
	pc, ok := r.(dns.PacketConnReader)
	if !ok {
		t.Fatal("the paced reader cannot read a net.PacketConn")
	}
	began := time.Now()
	for i := range 3 {
		if _, _, err := r.ReadUDP(nil, 0); err == nil {
			t.Fatalf("read %d: the error was swallowed", i)
		}
	}
	if d := time.Since(began); d < 35*time.Millisecond {
		t.Errorf("three errors took %v, want at least 35 ms", d)
	}
	began = time.Now()
	r.ReadUDP(nil, 0) // timeout
	r.ReadUDP(nil, 0) // success: starts over
	pc.ReadPacketConn(nil, 0)
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("a timeout, a success and an error took %v", d)
	}
	if n := strings.Count(logBuf.String(), "dns: udp read"); n != 4 {
		t.Errorf("%d waits logged, want 4:\n%s", n, logBuf.String())
	}
	if !strings.Contains(logBuf.String(), "retry_in=5ms") || strings.Count(logBuf.String(), "retry_in=5ms") != 2 {
		t.Errorf("the wait after a success is not 5 ms again:\n%s", logBuf.String())
	}
}
