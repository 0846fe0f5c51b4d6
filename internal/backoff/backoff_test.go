package backoff

import (
	"testing"
	"time"
)

func TestBackoffDoublesToMaxAndResets(t *testing.T) {
	var b Backoff
	var got []time.Duration
	for range 10 {
		got = append(got, b.Next())
	}
	want := []time.Duration{5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("waits %v, want %v ms", got, want)
		}
	}
	b.Reset()
	if d := b.Next(); d != DefaultMin {
		t.Fatalf("after Reset: %v", d)
	}
	c := Backoff{Min: time.Second, Max: 3 * time.Second}
	if a, b2, c3 := c.Next(), c.Next(), c.Next(); a != time.Second || b2 != 2*time.Second || c3 != 3*time.Second {
		t.Fatalf("Min 1 s, Max 3 s: %v %v %v", a, b2, c3)
	}
}

func TestWaitEndsWhenDone(t *testing.T) {
	b := Backoff{Min: time.Hour}
	done := make(chan struct{})
	close(done)
	if b.Wait(done) {
		t.Fatal("Wait returned true with done closed")
	}
	b = Backoff{Min: time.Millisecond}
	if !b.Wait(nil) {
		t.Fatal("Wait(nil) returned false")
	}
}
