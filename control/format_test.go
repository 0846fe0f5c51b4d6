package control

import (
	"bytes"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

const (
	minute = time.Minute
	hour   = time.Hour
	day    = 24 * time.Hour
)

// goldenSources has every mode and state, an unreachable source, names
// that chronyc would cut, and offsets in every unit from ns to years.
var goldenSources = []upstream.SourceReport{
	{Name: "ntp1.example.net", Mode: "^", State: "*", Stratum: 2, Poll: 6, Reach: 0o377, LastRx: 23 * time.Second,
		AdjustedOffset: -923 * time.Microsecond, MeasuredOffset: -924 * time.Microsecond, ErrorBound: 43 * time.Millisecond,
		NP: 11, NR: 5, Span: 46 * minute, Frequency: -0.001, FreqSkew: 0.045, Offset: time.Microsecond, StdDev: 25 * time.Microsecond},
	{Name: "192.168.1.10", Mode: "^", State: "+", Stratum: 1, Poll: 10, Reach: 0o17, LastRx: 5 * minute,
		AdjustedOffset: 1656 * time.Microsecond, MeasuredOffset: 1597 * time.Microsecond, ErrorBound: 41 * time.Millisecond,
		NP: 64, NR: 33, Span: 19 * hour, Frequency: 12.3456, FreqSkew: 0.3, Offset: -9999 * time.Nanosecond, StdDev: 9999499 * time.Nanosecond},
	{Name: "a-very-long-hostname.lan.example.net", Mode: "^", State: "-", Stratum: 3, Poll: -3, Reach: 1, LastRx: 11 * hour,
		AdjustedOffset: 9999499 * time.Microsecond, MeasuredOffset: -10 * time.Second, ErrorBound: 999499 * time.Millisecond,
		NP: 3, NR: 2, Span: 3 * day, Frequency: -123456.7, FreqSkew: 100000, Offset: 1500 * time.Millisecond, StdDev: 12 * time.Second},
	{Name: "2001:db8:1234:5678:9abc:def0:1234:5678", Mode: "^", State: "?", LastRx: -1,
		FreqSkew: 2000, StdDev: 4 * time.Second},
	{Name: "ticker.example.net", Mode: "^", State: "x", Stratum: 4, Poll: 7, Reach: 0o252, LastRx: 5 * day,
		AdjustedOffset: 123456 * time.Second, MeasuredOffset: -100 * hour, ErrorBound: 5000 * day,
		NP: 8, NR: 4, Span: 1100 * day, Frequency: 99999.4, FreqSkew: 0, Offset: -7 * day, StdDev: 280 * 365 * day},
	{Name: "jittery.example.net", Mode: "^", State: "~", Stratum: 15, Poll: 24, Reach: 0o376, LastRx: 1100 * day,
		AdjustedOffset: 280 * 365 * day, MeasuredOffset: -285 * 365 * day, ErrorBound: 0,
		NP: 0, NR: 0, Span: 0, Frequency: -0.0004, FreqSkew: 2000, Offset: 0, StdDev: 0},
	{Name: "peer.example.net", Mode: "=", State: "+", Stratum: 3, Poll: 8, Reach: 0o377, LastRx: 1199 * time.Second,
		AdjustedOffset: -1, MeasuredOffset: 1, ErrorBound: 9999,
		NP: 7, NR: 7, Span: 1200 * time.Second, Frequency: 0.5, FreqSkew: 1.25, Offset: -1, StdDev: 1},
	{Name: "GPS0", Mode: "#", State: "*", Stratum: 0, Poll: 4, Reach: 0o377, LastRx: 11 * time.Second,
		AdjustedOffset: -479, MeasuredOffset: -621, ErrorBound: 134,
		NP: 20, NR: 9, Span: 35999 * time.Second, Frequency: 0.002, FreqSkew: 0.017, Offset: -2, StdDev: 100},
	{Addr: netip.MustParseAddrPort("[2001:db8::123]:123"), Mode: "^", State: "-", Stratum: 2, Poll: 6, Reach: 0o377, LastRx: 36000 * time.Second,
		AdjustedOffset: 10 * time.Millisecond, MeasuredOffset: -9999500 * time.Nanosecond, ErrorBound: 10 * time.Second,
		NP: 6, NR: 3, Span: 345599 * time.Second, Frequency: 0, FreqSkew: 99999.5, Offset: 999500 * time.Millisecond, StdDev: 99999 * time.Second},
}

var goldenTrackings = map[string]upstream.TrackingReport{
	"synchronised": {
		RefID: 0xCB00710F, RefName: "foo.example.net", Stratum: 3,
		RefTime:    time.Date(2017, 1, 27, 9, 49, 17, 0, time.UTC),
		SystemTime: -6523 * time.Nanosecond, LastOffset: -6747 * time.Nanosecond, RMSOffset: 35822 * time.Nanosecond,
		Frequency: -3.225, ResidualFreq: -0.0004, Skew: 0.129,
		RootDelay: 13639022 * time.Nanosecond, RootDispersion: 1100737 * time.Nanosecond, UpdateInterval: 64200 * time.Millisecond,
		Leap: "Normal", ClockControl: true,
	},
	// ntpbox's one line of its own, after chronyc's: only when the bound
	// allows for a jump of our oscillator.
	"remembered-jump": {
		RefID: 0xC6120001, RefName: "198.18.0.1", Stratum: 3,
		RefTime:    time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC),
		SystemTime: 41 * time.Microsecond, LastOffset: -93 * time.Microsecond, RMSOffset: 120 * time.Microsecond,
		Frequency: 23.125, ResidualFreq: 0.012, Skew: 0.85,
		RootDelay: 420 * time.Microsecond, RootDispersion: 2 * time.Millisecond, UpdateInterval: 1024 * time.Second,
		Leap: "Normal", ClockControl: true, RememberedJump: 19.8314,
	},
	"unsynchronised": {Leap: "Not synchronised", RefTime: time.Unix(0, 0)},
	"local-fast-leap": {
		RefID: 0x7F7F0101, Stratum: 3, RefTime: time.Date(2030, 6, 30, 23, 59, 0, 0, time.FixedZone("CEST", 7200)),
		SystemTime: 2500 * time.Millisecond, LastOffset: 12 * time.Second, Frequency: 123.4567, ResidualFreq: 0.5,
		RootDelay: 0, RootDispersion: 0, UpdateInterval: 16 * time.Second, Leap: "Insert second",
	},
	"ipv6-reference-bad-leap": {
		RefID: 0x2A3B4C5D, RefName: "2001:db8:1234:5678:9abc:def0:1234:5678", Stratum: 2,
		RefTime: time.Date(2024, 2, 29, 0, 0, 1, 0, time.UTC), Leap: "sometimes",
	},
}

var goldenClients = []ClientReport{
	{Addr: netip.MustParseAddr("192.168.1.20"), NTP: 1234, Drop: 0, Interval: 6, LastAgo: 23 * time.Second},
	{Addr: netip.MustParseAddr("10.0.0.7"), NTP: 999999, Drop: 99999, KoD: 12, Interval: -2, LastAgo: 5 * minute},
	{Addr: netip.MustParseAddr("2001:db8:1234:5678:9abc:def0:1234:5678"), NTP: 1, Interval: 127, LastAgo: 3 * day},
	{Addr: netip.MustParseAddr("fe80::1"), NTP: 2, Interval: 0, LastAgo: -1},
	{NTP: 5}, // no address: skipped, as chronyc skips a record it cannot find
	{Addr: netip.MustParseAddr("10.0.0.8"), NTP: 12345678, Drop: 1234567, Interval: 10, LastAgo: 1000 * day},
}

// alignedClients are the golden clients whose counts fit their columns.
var alignedClients = goldenClients[:4]

func TestGolden(t *testing.T) {
	cases := []struct {
		name   string
		format func(*bytes.Buffer) error
	}{
		{"sources", func(b *bytes.Buffer) error { return FormatSources(b, goldenSources, false) }},
		{"sources-verbose", func(b *bytes.Buffer) error { return FormatSources(b, goldenSources, true) }},
		{"sources-empty", func(b *bytes.Buffer) error { return FormatSources(b, nil, false) }},
		{"sourcestats", func(b *bytes.Buffer) error { return FormatSourceStats(b, goldenSources, false) }},
		{"sourcestats-verbose", func(b *bytes.Buffer) error { return FormatSourceStats(b, goldenSources, true) }},
		{"clients", func(b *bytes.Buffer) error { return FormatClients(b, goldenClients) }},
		{"clients-empty", func(b *bytes.Buffer) error { return FormatClients(b, nil) }},
	}
	for name, tr := range goldenTrackings {
		cases = append(cases, struct {
			name   string
			format func(*bytes.Buffer) error
		}{"tracking-" + name, func(b *bytes.Buffer) error { return FormatTracking(b, tr) }})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got bytes.Buffer
			if err := tc.format(&got); err != nil {
				t.Fatal(err)
			}
			file := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(file, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got.String() != string(want) {
				t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s--- want\n%s", file, got.String(), want)
			}
		})
	}
}

// The unit boundaries of chronyc's print_* functions, worked out from
// their printf formats.
func TestChronycNumbers(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  string
		want string
	}{
		{"seconds never", seconds(-1), "   -"},
		{"seconds zero", seconds(0), "   0"},
		{"seconds truncates", seconds(1999 * time.Millisecond), "   1"},
		{"seconds 1199", seconds(1199 * time.Second), "1199"},
		{"seconds 1200 is minutes", seconds(1200 * time.Second), " 20m"},
		{"seconds 35999", seconds(35999 * time.Second), "599m"},
		{"seconds 36000 is hours", seconds(36000 * time.Second), " 10h"},
		{"seconds 345599", seconds(345599 * time.Second), " 95h"},
		{"seconds 345600 is days", seconds(345600 * time.Second), "  4d"},
		{"seconds 999 days", seconds(999 * day), "999d"},
		{"seconds 1000 days is years", seconds(1000 * day), "  2y"},

		{"ns zero", nanoseconds(0), "   0ns"},
		{"ns negative is magnitude", nanoseconds(-3071), "3071ns"},
		{"ns 9999", nanoseconds(9999), "9999ns"},
		{"ns 10000 is us", nanoseconds(10000), "  10us"},
		{"us 9999", nanoseconds(9999 * time.Microsecond), "9999us"},
		{"ms", nanoseconds(4 * time.Second), "4000ms"},
		{"ms 9999.5 is s", nanoseconds(9999500 * time.Microsecond), " 10.0s"},
		{"s one decimal", nanoseconds(999400 * time.Millisecond), "999.4s"},
		{"s 999.5 whole", nanoseconds(999500 * time.Millisecond), " 1000s"},
		{"s to m", nanoseconds(100000 * time.Second), " 1667m"},
		{"m to h", nanoseconds(6000000 * time.Second), " 1667h"},
		{"h to d", nanoseconds(360000000 * time.Second), " 4167d"},
		{"d to y", nanoseconds(9000000000 * time.Second), "  285y"},

		{"signed zero", signedNanoseconds(0), "   +0ns"},
		{"signed negative", signedNanoseconds(-702), " -702ns"},
		{"signed us rounds to -0", signedNanoseconds(-10499), "  -10us"},
		{"signed us", signedNanoseconds(1656 * time.Microsecond), "+1656us"},
		{"signed ms", signedNanoseconds(-41 * time.Millisecond), "  -41ms"},
		{"signed s", signedNanoseconds(-12300 * time.Millisecond), " -12.3s"},
		{"signed whole s", signedNanoseconds(99999 * time.Second), "+99999s"},
		{"signed m", signedNanoseconds(-123456 * time.Second), " -2058m"},

		{"freq", freqPPM(0.045), "     0.045"},
		{"freq big", freqPPM(99999.5), "    100000"},
		{"freq signed", signedFreqPPM(-0.0004), "    -0.000"},
		{"freq signed zero", signedFreqPPM(0), "    +0.000"},
		{"freq signed big", signedFreqPPM(-123456.7), "   -123457"},

		{"interval unknown", clientInterval(127), " -"},
		{"interval", clientInterval(6), " 6"},
		{"interval negative", clientInterval(-2), "-2"},

		{"name fits", truncName("1234567890123456789012345", 25), "1234567890123456789012345"},
		{"name cut", truncName("12345678901234567890123456", 25), "123456789012345678901234>"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

func TestDocExample(t *testing.T) {
	var b bytes.Buffer
	FormatSources(&b, []upstream.SourceReport{
		{Name: "ntp1.example.net", Mode: "^", State: "*", Stratum: 2, Poll: 6, Reach: 0o377, LastRx: 23 * time.Second,
			AdjustedOffset: -923 * time.Microsecond, MeasuredOffset: -924 * time.Microsecond, ErrorBound: 43 * time.Millisecond},
		{Name: "2001:db8:1234:5678:9abc:def0:1234:5678", Mode: "^", State: "?", Poll: 6, LastRx: -1},
	}, false)
	const want = "MS Name/IP address         Stratum Poll Reach LastRx Last sample               \n" +
		"===============================================================================\n" +
		"^* ntp1.example.net              2   6   377    23   -923us[ -924us] +/-   43ms\n" +
		"^? 2001:db8:1234:5678:9abc:>     0   6     0     -     +0ns[   +0ns] +/-    0ns\n"
	if b.String() != want {
		t.Errorf("package doc example is stale:\n%s", b.String())
	}
}
