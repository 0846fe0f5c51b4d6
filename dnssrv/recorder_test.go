package dnssrv

import (
	"net"

	"github.com/miekg/dns"
)

// recorder is a dns.ResponseWriter that keeps what was written, as in
// coredns' dnstest.Recorder. It packs and unpacks the reply so tests see
// the wire form (truncation, extended rcodes).
type recorder struct {
	remote net.Addr
	msg    *dns.Msg
	err    error
	writes int
	size   int // bytes of the last reply
}

func (r *recorder) LocalAddr() net.Addr {
	return &net.UDPAddr{IP: net.IPv4(198, 18, 0, 2), Port: 53}
}

func (r *recorder) RemoteAddr() net.Addr {
	if r.remote != nil {
		return r.remote
	}
	return &net.UDPAddr{IP: net.IPv4(198, 18, 0, 77), Port: 40000}
}

func (r *recorder) WriteMsg(m *dns.Msg) error {
	r.writes++
	b, err := m.Pack()
	if err != nil {
		r.err = err
		return err
	}
	r.size = len(b)
	r.msg = new(dns.Msg)
	r.err = r.msg.Unpack(b)
	return r.err
}

func (r *recorder) Write(b []byte) (int, error) {
	r.writes++
	r.size = len(b)
	r.msg = new(dns.Msg)
	r.err = r.msg.Unpack(b)
	return len(b), r.err
}

func (r *recorder) Close() error        { return nil }
func (r *recorder) TsigStatus() error   { return nil }
func (r *recorder) TsigTimersOnly(bool) {}
func (r *recorder) Hijack()             {}
