package ntpserver

import (
	"net"
	"testing"
	"time"
)

// The kernel's transmit timestamp of each datagram lies between the clock
// readings before and after the send, in order, one per datagram, and a
// report left unread is skipped, not taken for the next datagram's.
func TestTxTimestamps(t *testing.T) {
	rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	tx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	ts, err := EnableTxTimestamps(tx)
	if err != nil {
		t.Fatalf("EnableTxTimestamps: %v", err)
	}
	to := rx.LocalAddr().(*net.UDPAddr).AddrPort()
	send := func() (before, after time.Time) {
		before = time.Now()
		if _, err := tx.WriteToUDPAddrPort(make([]byte, 48), to); err != nil {
			t.Fatal(err)
		}
		return before, time.Now()
	}
	for i := range 5 {
		before, after := send()
		got, ok := ts.Sent()
		if !ok {
			t.Fatalf("datagram %d: no transmit timestamp", i)
		}
		if got.Before(before) || got.After(after) {
			t.Errorf("datagram %d: sent at %v, outside [%v, %v]", i, got, before, after)
		}
	}
	// One report not read: the stamper must skip it for the next send.
	ts.next++
	send()
	before, after := send()
	got, ok := ts.Sent()
	if !ok || got.Before(before) || got.After(after) {
		t.Errorf("after a skipped report: %v %v, want within [%v, %v]", got, ok, before, after)
	}
}

// The sync loop reads replies in one goroutine while it sends polls in
// another: reading the error queue must not wait for the reader.
func TestTxTimestampsWhileReading(t *testing.T) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ts, err := EnableTxTimestamps(c)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64)
		c.ReadFromUDP(buf) // blocks until Close
	}()
	time.Sleep(10 * time.Millisecond)
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	got := make(chan bool, 1)
	go func() {
		c.WriteToUDPAddrPort(make([]byte, 48), peer.LocalAddr().(*net.UDPAddr).AddrPort())
		_, ok := ts.Sent()
		got <- ok
	}()
	select {
	case ok := <-got:
		if !ok {
			t.Error("no transmit timestamp")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Sent waited for the reading goroutine")
	}
	c.Close()
	<-done
}
