package cmdmon

import (
	"bufio"
	"math"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestFloatAsChrony compares EncodeFloat and DecodeFloat with chrony's
// own functions, compiled and run on the inputs of testdata/float.txt.
func TestFloatAsChrony(t *testing.T) {
	f, err := os.Open("testdata/float.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || fields[0] == "#" {
			continue
		}
		n++
		if fields[0] == "D" {
			w, _ := strconv.ParseUint(fields[1], 16, 32)
			want, _ := strconv.ParseFloat(fields[2], 64)
			if got := DecodeFloat(uint32(w)); got != want {
				t.Errorf("DecodeFloat(%08x) = %g, want %g", w, got, want)
			}
			continue
		}
		x, _ := strconv.ParseFloat(fields[0], 64)
		w, _ := strconv.ParseUint(fields[1], 16, 32)
		back, _ := strconv.ParseFloat(fields[2], 64)
		if got := EncodeFloat(x); got != uint32(w) {
			t.Errorf("EncodeFloat(%g) = %08x, want %08x", x, got, w)
		}
		if got := DecodeFloat(uint32(w)); got != back {
			t.Errorf("DecodeFloat(%08x) = %g, want %g", w, got, back)
		}
	}
	if n < 40 {
		t.Fatalf("only %d vectors read", n)
	}
}

// TestFloatRoundTrip: a value in chrony's range comes back within the
// format's precision (24 bits of coefficient).
func TestFloatRoundTrip(t *testing.T) {
	for _, x := range []float64{1, -1, 1e-9, -7.3e-6, 0.0123, 43e-3, 1e6, -123456.789, 3.0e-20, 1e18} {
		got := DecodeFloat(EncodeFloat(x))
		if math.Abs(got-x) > math.Abs(x)*math.Ldexp(1, -23) {
			t.Errorf("round trip of %g gave %g", x, got)
		}
	}
}

func TestIPAddr(t *testing.T) {
	var b [ipAddrLen]byte
	for _, tc := range []struct {
		addr netip.Addr
		want string // hex of the 20 bytes
	}{
		{netip.MustParseAddr("192.0.2.1"), "c0000201" + strings.Repeat("00", 12) + "0001" + "0000"},
		{netip.MustParseAddr("::ffff:192.0.2.1"), "c0000201" + strings.Repeat("00", 12) + "0001" + "0000"},
		{netip.MustParseAddr("2001:db8::1"), "20010db8000000000000000000000001" + "0002" + "0000"},
		{netip.Addr{}, strings.Repeat("00", 20)},
	} {
		for i := range b {
			b[i] = 0xee // every byte must be written
		}
		putIPAddr(b[:], tc.addr)
		if got := hexString(b[:]); got != tc.want {
			t.Errorf("putIPAddr(%v) = %s, want %s", tc.addr, got, tc.want)
		}
		a, _, fam := getIPAddr(b[:])
		if tc.addr.IsValid() && (a != tc.addr.Unmap() || fam == familyUnspec) {
			t.Errorf("getIPAddr(putIPAddr(%v)) = %v family %d", tc.addr, a, fam)
		}
	}
	putIPID(b[:], 7)
	if a, id, fam := getIPAddr(b[:]); a.IsValid() || id != 7 || fam != familyID {
		t.Errorf("ID 7 read back as %v, %d, family %d", a, id, fam)
	}
	b[17] = 9 // unknown family
	if a, _, fam := getIPAddr(b[:]); a.IsValid() || fam != familyUnspec {
		t.Errorf("family 9 read as %v, family %d; want UNSPEC", a, fam)
	}
}

func TestTimespec(t *testing.T) {
	var b [timespecLen]byte
	putTimespec(b[:], time.Date(2017, 1, 27, 9, 49, 17, 123456789, time.UTC))
	// 1485510557 = 0x588b179d
	if got, want := hexString(b[:]), "00000000"+"588b179d"+"075bcd15"; got != want {
		t.Errorf("timespec = %s, want %s", got, want)
	}
	putTimespec(b[:], time.Time{})
	if got := hexString(b[:]); got != strings.Repeat("00", 12) {
		t.Errorf("zero time = %s, want the epoch", got)
	}
	putTimespec(b[:], time.Date(2110, 1, 1, 0, 0, 0, 0, time.UTC)) // beyond 32 bits
	if got := hexString(b[:4]); got != "00000001" {
		t.Errorf("2110's high seconds = %s, want 00000001", got)
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
