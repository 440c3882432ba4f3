package httpgroup

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

var raNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return raNow }

func TestParseRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"1", time.Second},
		{"007", 7 * time.Second},
		{"59", 59 * time.Second},
		{"60", time.Minute},
		{"61", MaxRetryAfter},
		{"3600", MaxRetryAfter},
		{"99999999999999999999999999999", MaxRetryAfter}, // no overflow
		{"999999999999999999999999999x9", 0},
		{"-1", 0},
		{"+5", 0},
		{"1.5", 0},
		{"5s", 0},
		{" 5", 0},
		{"5 ", 0},
		{"0x10", 0},
		{"soon", 0},
		{"Sun, 01 Mar 2026 12:00:30 GMT", 30 * time.Second},  // IMF-fixdate
		{"Sunday, 01-Mar-26 12:00:10 GMT", 10 * time.Second}, // RFC 850
		{"Sun Mar  1 12:00:05 2026", 5 * time.Second},        // asctime
		{"Sun, 01 Mar 2026 13:00:00 GMT", MaxRetryAfter},     // an hour: capped
		{"Sun, 01 Mar 2026 11:59:00 GMT", 0},                 // past
		{"Sun, 01 Mar 2026 12:00:00 GMT", 0},                 // now
		{"Sun, 01 Mar 2026 12:00:30 PST", 0},                 // not GMT: not an HTTP-date
		{"Sun, 99 Mar 2026 12:00:30 GMT", 0},
		{strings.Repeat("9", 100000), MaxRetryAfter},
	} {
		if got := parseRetryAfter(tc.in, fixedNow); got != tc.want {
			t.Errorf("parseRetryAfter(%.40q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestRetryAfterOnlyFor429And503(t *testing.T) {
	h := http.Header{"Retry-After": {"5"}}
	for code, want := range map[int]time.Duration{429: 5 * time.Second, 503: 5 * time.Second, 500: 0, 502: 0, 200: 0, 301: 0} {
		if got := retryAfter(&http.Response{StatusCode: code, Header: h}, fixedNow); got != want {
			t.Errorf("status %d: %v, want %v", code, got, want)
		}
	}
	if got := retryAfter(&http.Response{StatusCode: 503, Header: http.Header{}}, fixedNow); got != 0 {
		t.Errorf("no header: %v", got)
	}
}

// FuzzRetryAfter: any header value gives 0 to MaxRetryAfter, never a
// panic, and delta-seconds agree with strconv's reading of them.
func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "5", "61", "99999999999999999999", "-1", "1.5", "5s",
		"Sun, 01 Mar 2026 12:00:30 GMT", "Sunday, 01-Mar-26 12:00:10 GMT", "Sun Mar  1 12:00:05 2026", "\x00", "９"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := parseRetryAfter(s, fixedNow)
		if got < 0 || got > MaxRetryAfter {
			t.Fatalf("parseRetryAfter(%q) = %v, out of 0-%v", s, got, MaxRetryAfter)
		}
		digits := s != ""
		for i := 0; i < len(s); i++ {
			digits = digits && s[i] >= '0' && s[i] <= '9'
		}
		if digits {
			want := MaxRetryAfter
			if t := strings.TrimLeft(s, "0"); len(t) <= 2 {
				n := 0
				for _, c := range t {
					n = n*10 + int(c-'0')
				}
				want = min(time.Duration(n)*time.Second, MaxRetryAfter)
			}
			if got != want {
				t.Fatalf("parseRetryAfter(%q) = %v, want %v", s, got, want)
			}
		}
	})
}
