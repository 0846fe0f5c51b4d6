package clocktest

import (
	"math"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

func TestClock(t *testing.T) {
	w := NewWorld(Start, 1)
	c := w.NewClock(ClockConfig{Offset: time.Millisecond, FreqErr: 100})
	if got := c.Now().Sub(w.Now()); got != time.Millisecond {
		t.Fatalf("initial error %v", got)
	}
	w.t += 10
	if e := c.ErrorSeconds(); math.Abs(e-(1e-3+100e-6*10)) > 1e-12 {
		t.Errorf("error after 10 s at 100 ppm: %v", e)
	}
	c.SetFrequency(-100) // corrected
	w.t += 10
	if e := c.ErrorSeconds(); math.Abs(e-2e-3) > 1e-12 {
		t.Errorf("error after 10 corrected seconds: %v", e)
	}
	c.Step(-2 * time.Millisecond)
	if e := c.Error(); e != 0 {
		t.Errorf("error after the step: %v", e)
	}
	c.SetFrequency(900)
	if f, _ := c.Frequency(); f != 500 {
		t.Errorf("frequency %v, want clamped to 500", f)
	}
}

func TestServerAnswers(t *testing.T) {
	w := NewWorld(Start, 1)
	s := NewServer("198.18.0.1:123")
	s.Offset = Constant(50 * time.Millisecond)
	req := make([]byte, wire.HeaderLen)
	(&wire.Packet{Version: 4, Mode: wire.ModeClient, Transmit: 42}).Encode(req)
	var p wire.Packet
	if err := p.Decode(s.answer(w, req, 0)); err != nil {
		t.Fatal(err)
	}
	if p.Mode != wire.ModeServer || p.Origin != 42 || p.Stratum != 1 {
		t.Errorf("reply %+v", p)
	}
	if d := p.Receive.Time(w.Now()).Sub(w.Now()) - 50*time.Millisecond; d.Abs() > time.Microsecond {
		t.Errorf("server clock %v from 50 ms off", d)
	}
	s.Kiss = func(float64) string { return "RATE" }
	p.Decode(s.answer(w, req, 0))
	if p.Stratum != 0 || p.Leap != wire.LeapUnsynchronised || wire.RefIDString(0, p.RefID) != "RATE" {
		t.Errorf("kiss %+v", p)
	}
	s.Up = Outage(0, 10)
	if r := s.answer(w, req, 5); r != nil {
		t.Error("answered during an outage")
	}
}
