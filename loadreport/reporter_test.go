package loadreport

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-elb/elb"
	"github.com/go-elb/elb/internal/fakeclock"
)

func TestNewRejects(t *testing.T) {
	for _, c := range []Config{{Capacity: -1}, {Capacity: maxCapacity + 1}, {RateWindow: time.Millisecond}, {RateWindow: time.Hour}, {Encoding: 7}} {
		if _, err := New(c); !errors.Is(err, elb.ErrInvalidConfig) {
			t.Errorf("New(%+v) = %v, want a ConfigError", c, err)
		}
	}
}

func TestReporterRatesAndUtilization(t *testing.T) {
	clk := fakeclock.New(time.Unix(1000, 0))
	r, err := New(Config{Capacity: 4, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	starts := []time.Time{r.Start(), r.Start()}
	if got := r.Report(nil); got.ApplicationUtilization != 0 || got.QPS != 0 || got.Named[0] != (Metric{"in_flight", 2}) {
		t.Fatalf("two in flight, no window over yet: %+v", got)
	}
	clk.Advance(500 * time.Millisecond)
	r.Finish(starts[0], false)
	r.Finish(starts[1], true)
	for range 8 {
		r.Finish(r.Start(), false)
	}
	clk.Advance(500 * time.Millisecond) // the window of 10 requests, 1 failed, ends
	got := r.Report(nil)
	// Two requests in flight for half the window: an average of 1 in
	// flight, of 4.
	if got.ApplicationUtilization != 0.25 || got.QPS != 10 || got.EPS != 1 {
		t.Fatalf("after a window of 10 requests, 1 failed, 2 of them in flight for half of it: %+v", got)
	}
	if len(got.Named) != 2 || got.Named[1].Name != "latency_ms" || got.Named[1].Value <= 0 {
		t.Fatalf("named metrics %+v: want in_flight and latency_ms", got.Named)
	}
	clk.Advance(2 * time.Second) // idle: the next window has no request
	if got := r.Report(nil); got.QPS != 0 {
		t.Fatalf("after an idle window: qps %v", got.QPS)
	}
	r3, _ := New(Config{Capacity: 4, Instant: true, Now: clk.Now})
	r3.Start()
	if got := r3.Report(nil); got.ApplicationUtilization != 0.25 {
		t.Fatalf("Instant with 1 in flight of 4: %+v", got)
	}
	r2, _ := New(Config{Utilization: func() float64 { return 0.7 }, CPUUtilization: func() float64 { return 0.4 }})
	if got := r2.Report(nil); got.ApplicationUtilization != 0.7 || got.CPUUtilization != 0.4 {
		t.Fatalf("with Utilization and CPUUtilization: %+v", got)
	}
}

func TestHandler(t *testing.T) {
	for _, enc := range []Encoding{Text, JSON, Binary} {
		r, _ := New(Config{Capacity: 2, Encoding: enc})
		mux := http.NewServeMux()
		mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) {})
		mux.HandleFunc("/fail", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) })
		mux.HandleFunc("/flush", func(w http.ResponseWriter, _ *http.Request) {
			w.Write([]byte("a"))
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("Flush through the middleware: %v", err)
			}
		})
		mux.HandleFunc("/panic", func(w http.ResponseWriter, _ *http.Request) { panic(http.ErrAbortHandler) })
		srv := httptest.NewServer(r.Handler(mux))
		for _, path := range []string{"/ok", "/fail", "/flush", "/panic"} {
			resp, err := http.Get(srv.URL + path)
			if path == "/panic" {
				if err == nil {
					resp.Body.Close()
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			h := resp.Header.Get(Header)
			if load, err := Parse(h); err != nil || !strings.HasPrefix(h, enc.String()+" ") {
				t.Errorf("%v %s: header %q: %+v, %v", enc, path, h, load, err)
			}
		}
		srv.Close()
		if n := r.errors.n.Load(); n != 2 {
			t.Errorf("%v: %d failures counted, want 2 (503 and the panic)", enc, n)
		}
		if n := r.requests.n.Load(); n != 4 {
			t.Errorf("%v: %d requests counted, want 4", enc, n)
		}
		if r.InFlight() != 0 {
			t.Errorf("%v: %d still in flight", enc, r.InFlight())
		}
	}
}
