package backoff

import (
	"net"
	"sync"
)

// ScriptConn is a net.PacketConn for tests of read loops: each ReadFrom
// takes the next of Reads (an error, or a packet from a peer); once they
// are used up, ReadFrom waits for Close and returns net.ErrClosed.
// WriteTo records what is written. Only ReadFrom, WriteTo, LocalAddr and
// Close may be called.
type ScriptConn struct {
	net.PacketConn
	Local net.Addr

	mu      sync.Mutex
	reads   []Read
	nread   int
	written [][]byte
	closed  chan struct{}
	once    sync.Once
}

// Read is one ReadFrom's outcome: Err, or Data from From.
type Read struct {
	Data []byte
	From net.Addr
	Err  error
}

// NewScriptConn returns a ScriptConn that reads reads in order.
func NewScriptConn(local net.Addr, reads ...Read) *ScriptConn {
	return &ScriptConn{Local: local, reads: reads, closed: make(chan struct{})}
}

func (c *ScriptConn) ReadFrom(b []byte) (int, net.Addr, error) {
	c.mu.Lock()
	if c.nread < len(c.reads) {
		r := c.reads[c.nread]
		c.nread++
		c.mu.Unlock()
		if r.Err != nil {
			return 0, nil, r.Err
		}
		return copy(b, r.Data), r.From, nil
	}
	c.mu.Unlock()
	<-c.closed
	return 0, nil, net.ErrClosed
}

func (c *ScriptConn) WriteTo(b []byte, to net.Addr) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.written = append(c.written, append([]byte(nil), b...))
	return len(b), nil
}

func (c *ScriptConn) LocalAddr() net.Addr { return c.Local }

func (c *ScriptConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

// Done reports whether every scripted read has been taken.
func (c *ScriptConn) Done() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nread == len(c.reads)
}

// Written returns what has been written so far.
func (c *ScriptConn) Written() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.written...)
}
