package config

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// FuzzParse checks that ParseBytes never panics, that a failure is made
// of *Error values naming the file, and that a Config it accepts has every
// field within the range documented on it. The seeds are in
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte("server 0.centos.pool.ntp.org iburst\nallow 10.0.0.0/8\nlocal stratum 3\n"))
	f.Add([]byte("address 198.18.0.2/24 # the box\ngateway 198.18.0.1\nnameserver 198.18.0.53\nhostname ntp1\nallow connected\ndeny 198.18.0.64/26\nlocal stratum 10 orphan waitunsynced 30\n"))
	f.Add([]byte("advertise 198.18.0.2\ndhcp server 198.18.0.100 198.18.0.150 lease 2h router 198.18.0.1 dns 198.18.0.1\ndns zone lab.test\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, warnings, err := ParseBytes("fuzz.conf", data)
		for _, w := range warnings {
			if w.Origin.File != "fuzz.conf" || w.Origin.Line < 1 || w.Directive == "" || w.Msg == "" {
				t.Errorf("malformed warning %+v", w)
			}
		}
		if err != nil {
			if cfg != nil {
				t.Fatalf("Config returned with error %v", err)
			}
			checkErrors(t, err)
			return
		}
		if cfg == nil {
			t.Fatal("nil Config without error")
		}
		if err := cfg.Validate(); err != nil {
			t.Errorf("accepted %q with fields out of range: %v", data, err)
		}
		// What `ntpbox config` prints parses back to the same settings.
		var buf bytes.Buffer
		if err := cfg.Render(&buf); err != nil {
			t.Fatal(err)
		}
		back, _, err := ParseBytes("rendered.conf", buf.Bytes())
		if err != nil {
			t.Fatalf("%q renders as\n%s\nwhich does not parse: %v", data, buf.Bytes(), err)
		}
		if a, b := settings(cfg), settings(back); !reflect.DeepEqual(a, b) {
			t.Fatalf("%q renders as\n%s\nwhich parses to other settings:\n got  %+v\n want %+v", data, buf.Bytes(), b, a)
		}
	})
}

// settings is cfg without the origins, and without what Render can only
// show as a comment (the source options ntpbox ignores).
func settings(cfg *Config) Config {
	c := *cfg
	c.Origins = nil
	c.Access = append([]AccessRule(nil), c.Access...)
	for i := range c.Access {
		c.Access[i].Origin = Origin{}
	}
	c.Sources = append([]Source(nil), c.Sources...)
	for i := range c.Sources {
		c.Sources[i].Origin = Origin{}
		c.Sources[i].Options = nil
	}
	if c.DHCP != nil {
		d := *c.DHCP
		d.Origin = Origin{}
		c.DHCP = &d
	}
	if c.DHCP6 != nil {
		d := *c.DHCP6
		d.Origin = Origin{}
		c.DHCP6 = &d
	}
	return c
}

func checkErrors(t *testing.T, err error) {
	t.Helper()
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("error %T is not errors.Join of *Error", err)
	}
	for _, e := range joined.Unwrap() {
		var pe *Error
		if !errors.As(e, &pe) {
			t.Fatalf("error %v (%T) is not an *Error", e, e)
		}
		if pe.Origin.File != "fuzz.conf" || pe.Origin.Line < 1 || pe.Directive == "" || pe.Msg == "" {
			t.Errorf("malformed error %+v", pe)
		}
	}
}

// FuzzDecode: the config init hands the service decodes without
// panicking, what decodes is valid, and it encodes back to the same.
func FuzzDecode(f *testing.F) {
	cfg, _, err := Merge(nil, nil, ApplianceDefaults("/perm/ntpbox.drift"),
		FilePart(LayerBaked, "/etc/ntpbox.conf", []byte("dhcp auto\npool pool.ntp.org iburst\nlocal stratum 10 orphan\n")))
	if err != nil {
		f.Fatal(err)
	}
	b, _ := Encode(cfg)
	f.Add(b)
	f.Add([]byte(`{"Port":70000}`))
	f.Add([]byte(`{"Access":[{"Allow":true,"Any":true,"Connected":true}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Decode(data)
		if err != nil {
			return
		}
		b, err := Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Decode(b)
		if err != nil || !reflect.DeepEqual(c, back) {
			t.Fatalf("%s: encode/decode round trip: %v\n%+v\n%+v", data, err, c, back)
		}
	})
}
