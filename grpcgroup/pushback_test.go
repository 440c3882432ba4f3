package grpcgroup

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
)

func TestPushback(t *testing.T) {
	for _, tc := range []struct {
		md   metadata.MD
		want time.Duration
	}{
		{nil, 0},
		{metadata.Pairs("other", "5"), 0},
		{metadata.Pairs(pushbackKey, "250"), 250 * time.Millisecond},
		{metadata.Pairs(pushbackKey, "0"), 0},
		{metadata.Pairs(pushbackKey, "60000"), time.Minute},
		{metadata.Pairs(pushbackKey, "60001"), MaxPushback},
		{metadata.Pairs(pushbackKey, strings.Repeat("9", 500)), MaxPushback},
		{metadata.Pairs(pushbackKey, "-1"), 0},
		{metadata.Pairs(pushbackKey, "1.5"), 0},
		{metadata.Pairs(pushbackKey, "250ms"), 0},
		{metadata.Pairs(pushbackKey, ""), 0},
		{metadata.Pairs(pushbackKey, "100", pushbackKey, "9000"), 100 * time.Millisecond},
	} {
		if got := pushback(tc.md); got != tc.want {
			t.Errorf("pushback(%v) = %v, want %v", tc.md, got, tc.want)
		}
	}
}

// FuzzPushback: any trailer value gives 0 to MaxPushback, never a panic.
func FuzzPushback(f *testing.F) {
	for _, s := range []string{"", "0", "250", "60001", "-1", "1e3", "99999999999999999999999", " 5", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := parsePushback(s)
		if got < 0 || got > MaxPushback {
			t.Fatalf("parsePushback(%q) = %v, out of 0-%v", s, got, MaxPushback)
		}
		if got > 0 && strings.Trim(s, "0123456789") != "" {
			t.Fatalf("parsePushback(%q) = %v for a value that is not digits", s, got)
		}
	})
}
