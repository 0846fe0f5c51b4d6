package dnssrv

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"

	"github.com/ntpbox/ntpbox/internal/backoff"
)

// The responder's I/O: the socket, probing and announcing, answering,
// and the goodbye.

const (
	mdnsProbeWait    = 250 * time.Millisecond // between probes (RFC 6762 §8.1)
	mdnsMaxRenames   = 10                     // conflicts before the responder gives up
	mdnsAnnounceWait = time.Second            // between the two announcements (§8.3)
)

// ListenMDNS opens UDP 5353 on every IPv4 address, shared with any other
// responder on the machine (SO_REUSEADDR, SO_REUSEPORT), and joins the
// mDNS group on the interface named ifname.
func ListenMDNS(ifname string) (*ipv4.PacketConn, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("mdns: %w", err)
	}
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = errors.Join(syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1),
				syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soReusePort, 1))
		})
		return errors.Join(err, serr)
	}}
	c, err := lc.ListenPacket(nil, "udp4", "0.0.0.0:5353")
	if err != nil {
		return nil, fmt.Errorf("mdns: listen: %w", err)
	}
	p := ipv4.NewPacketConn(c)
	err = errors.Join(p.JoinGroup(ifi, mdnsGroup4), p.SetMulticastInterface(ifi), p.SetMulticastTTL(255),
		p.SetMulticastLoopback(false), p.SetControlMessage(ipv4.FlagInterface, true))
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("mdns: join %v on %s: %w", mdnsGroup4.IP, ifname, err)
	}
	return p, nil
}

// Serve probes for the box's names, announces its records, then answers
// queries on p until Shutdown (or p's closing); it returns nil then.
// Read errors are waited out.
func (m *MDNS) Serve(p *ipv4.PacketConn) error {
	go m.start(p)
	buf := make([]byte, mdnsMaxQuery)
	var pause backoff.Backoff
	for {
		n, _, src, err := p.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			d := pause.Next()
			m.cfg.Logger.Warn("mdns: read", "err", err, "retry_in", d)
			time.Sleep(d)
			continue
		}
		pause.Reset()
		m.handle(p, buf[:n], src)
	}
}

// Shutdown says goodbye (the records with TTL 0) if the records were
// announced, and closes p.
func (m *MDNS) Shutdown(p *ipv4.PacketConn) error {
	m.mu.Lock()
	announced := m.state == mdnsAnnounced
	m.state = mdnsGone
	m.mu.Unlock()
	m.stopOnce.Do(func() { close(m.stop) })
	var err error
	if announced {
		err = m.send(p, m.Goodbye())
	}
	return errors.Join(err, p.Close())
}

// start probes (RFC 6762 §8.1), taking the next name after each
// conflict, then announces twice (§8.3).
func (m *MDNS) start(p *ipv4.PacketConn) {
	if !m.wait(time.Duration(rand.Int64N(int64(mdnsProbeWait)))) {
		return
	}
	for renames := 0; ; renames++ {
		conflict := ""
		for i := 0; i < 3 && conflict == ""; i++ {
			if err := m.send(p, m.Probe()); errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case conflict = <-m.conflict:
			case <-time.After(mdnsProbeWait):
			case <-m.stop:
				return
			}
		}
		if conflict == "" {
			break
		}
		if renames == mdnsMaxRenames {
			m.cfg.Logger.Error("mdns: every name tried is taken on the LAN; not answering", "last", conflict)
			return
		}
		m.cfg.Logger.Warn("mdns: name taken by another host on the LAN, taking the next", "taken", conflict, "name", m.rename())
	}
	m.mu.Lock()
	if m.state != mdnsProbing {
		m.mu.Unlock()
		return
	}
	m.state = mdnsAnnounced
	m.mu.Unlock()
	m.cfg.Logger.Info("mdns: announcing", "name", m.Host())
	for i := range 2 {
		if i > 0 && !m.wait(mdnsAnnounceWait) {
			return
		}
		if err := m.send(p, m.Announcement()); errors.Is(err, net.ErrClosed) {
			return
		}
	}
}

// wait sleeps d; false if the responder stopped meanwhile.
func (m *MDNS) wait(d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-m.stop:
		return false
	}
}

// send multicasts msg to the group.
func (m *MDNS) send(p *ipv4.PacketConn, msg *dns.Msg) error {
	b, err := msg.Pack()
	if err != nil {
		return fmt.Errorf("mdns: pack: %w", err)
	}
	if _, err := p.WriteTo(b, nil, mdnsGroup4); err != nil {
		if !errors.Is(err, net.ErrClosed) {
			m.cfg.Logger.Warn("mdns: send", "err", err)
		}
		return err
	}
	return nil
}

func (m *MDNS) stateIs(s mdnsState) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state == s
}

func (m *MDNS) handle(p *ipv4.PacketConn, b []byte, src net.Addr) {
	u, ok := src.(*net.UDPAddr)
	if !ok {
		return
	}
	from, ok := netip.AddrFromSlice(u.IP)
	m.mu.Lock()
	m.stats.Queries++
	m.mu.Unlock()
	var q dns.Msg
	if !ok || !m.cfg.Addr.Masked().Contains(from.Unmap()) || from.Unmap() == m.cfg.Addr.Addr() || q.Unpack(b) != nil {
		m.count(func(s *MDNSStats) { s.Ignored++ })
		return
	}
	if name := m.Conflict(&q); name != "" {
		if m.stateIs(mdnsProbing) {
			select {
			case m.conflict <- name:
			default:
			}
		} else {
			m.cfg.Logger.Warn("mdns: another host answers for the box's name", "name", name, "host", from)
		}
		return
	}
	if !m.stateIs(mdnsAnnounced) {
		return // no answers before the names are the box's own (RFC 6762 §8.1)
	}
	legacy := u.Port != 5353
	resp := m.Answer(&q, legacy)
	if resp == nil {
		return
	}
	unicast := legacy
	for _, qq := range q.Question {
		unicast = unicast || qq.Qclass&(1<<15) != 0
	}
	if !m.allow(time.Now(), resp, !unicast) {
		return
	}
	out, err := resp.Pack()
	if err != nil {
		return
	}
	dst := net.Addr(mdnsGroup4)
	if unicast {
		dst = u
	}
	if _, err := p.WriteTo(out, nil, dst); err != nil {
		m.cfg.Logger.Debug("mdns: answer", "to", dst, "err", err)
		return
	}
	m.count(func(s *MDNSStats) {
		s.Answered++
		if legacy {
			s.Legacy++
		}
	})
}

func (m *MDNS) count(f func(*MDNSStats)) {
	m.mu.Lock()
	f(&m.stats)
	m.mu.Unlock()
}
