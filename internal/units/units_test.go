package units

import "testing"

func TestParseBytes(t *testing.T) {
	cases := []struct {
		in   string
		want Bytes
		ok   bool
	}{
		{"0", 0, true},
		{"512", 512, true},
		{"64KB", 64000, true},
		{"64KiB", 64 << 10, true},
		{"1 MiB", 1 << 20, true},
		{"1mb", 1000000, true},
		{"2GiB", 2 << 30, true},
		{"-1", -1, true},
		{"", 0, false},
		{"MiB", 0, false},
		{"1PiB", 0, false},
		{"1.5MiB", 0, false},
		{"99999999999999999999", 0, false},
		{"--1", 0, false},
	}
	for _, tc := range cases {
		got, err := ParseBytes(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseBytes(%q): got %v, %v; want %v, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestString(t *testing.T) {
	for b, want := range map[Bytes]string{0: "0", 1000: "1000", 1 << 10: "1KiB", 3 << 20: "3MiB", 1 << 30: "1GiB", -1: "-1"} {
		if got := b.String(); got != want {
			t.Errorf("%d.String(): got %q, want %q", int64(b), got, want)
		}
		if back, err := ParseBytes(want); err != nil || back != b {
			t.Errorf("round trip %q: got %v, %v", want, back, err)
		}
	}
}
