package backoff

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestDigits(t *testing.T) {
	for _, tc := range []struct {
		s    string
		unit time.Duration
		want time.Duration
		ok   bool
	}{
		{"", time.Second, 0, false},
		{"0", time.Second, 0, true},
		{"7", time.Second, 7 * time.Second, true},
		{"0060", time.Second, time.Minute, true},
		{"61", time.Second, time.Minute, true},
		{"1500", time.Millisecond, 1500 * time.Millisecond, true},
		{"60001", time.Millisecond, time.Minute, true},
		{strings.Repeat("9", 1000), time.Millisecond, time.Minute, true},
		{strings.Repeat("9", 1000) + "x", time.Millisecond, 0, false},
		{"-1", time.Second, 0, false},
		{"+1", time.Second, 0, false},
		{"1.5", time.Second, 0, false},
		{" 1", time.Second, 0, false},
		{"1 ", time.Second, 0, false},
		{"1s", time.Second, 0, false},
		{"１", time.Second, 0, false}, // a full-width digit
	} {
		got, ok := Digits(tc.s, tc.unit, time.Minute)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Digits(%.20q, %v) = %v, %v; want %v, %v", tc.s, tc.unit, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzDigits: Digits agrees with strconv on every string, within the cap.
func FuzzDigits(f *testing.F) {
	for _, s := range []string{"", "0", "59", "60", "61", "99999999999999999999", "-5", "1e3", "0x1f", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := Digits(s, time.Second, time.Minute)
		if got < 0 || got > time.Minute {
			t.Fatalf("Digits(%q) = %v: out of range", s, got)
		}
		digits := s != "" && strings.Trim(s, "0123456789") == ""
		if ok != digits {
			t.Fatalf("Digits(%q) ok = %v, want %v", s, ok, digits)
		}
		if !digits {
			return
		}
		want := time.Minute
		if n, err := strconv.ParseUint(s, 10, 64); err == nil && n < 60 {
			want = time.Duration(n) * time.Second
		}
		if got != want {
			t.Fatalf("Digits(%q) = %v, want %v", s, got, want)
		}
	})
}
