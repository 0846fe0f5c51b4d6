package upstream_test

import (
	"testing"
	"time"
)

// BenchmarkLANDay simulates a 24-hour day of a box with three LAN
// servers (100 µs each way, 50 µs exponential jitter per direction, a
// clock 100 ppm fast with 0.001 ppm/√s wander) and reports the RMS and
// 99th percentile of the clock's error after the first hour, observed
// every second, averaged over the days simulated (each with its own
// seed). chrony's published figures on a LAN with software timestamps
// are tens of microseconds.
func BenchmarkLANDay(b *testing.B) {
	var rms, p99 float64
	for i := range b.N {
		s := lanSetup()
		s.seed = uint64(i%8 + 1)
		w := newWorld(b, s)
		w.Run(time.Hour)
		st := w.errorStats(23 * time.Hour)
		rms += st.RMS()
		p99 += st.Percentile(99)
	}
	b.ReportMetric(rms/float64(b.N)*1e6, "rms-µs")
	b.ReportMetric(p99/float64(b.N)*1e6, "p99-µs")
}

// TestLANDay checks the benchmark's day against a bound, over a few
// seeds.
func TestLANDay(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		s := lanSetup()
		s.seed = seed
		w := newWorld(t, s)
		w.Run(time.Hour)
		st := w.errorStats(23 * time.Hour)
		t.Logf("seed %d: RMS %s, p99 %s, max %s; %d requests", seed, us(st.RMS()), us(st.Percentile(99)), us(st.MaxAbs), w.Requests)
		if st.RMS() > 50e-6 {
			t.Errorf("seed %d: RMS error %s over a LAN day", seed, us(st.RMS()))
		}
	}
}
