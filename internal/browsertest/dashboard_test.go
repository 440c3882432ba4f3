package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
	"github.com/go-elb/elb/httpgroup"
)

// hostile is a backend ID that is markup, with a handler that would run.
const hostile = `<img src=x onerror=alert(1)>`

// browser returns a tab of a new headless Chromium, and what the tab did:
// its JavaScript dialogs, uncaught exceptions and requested URLs. Without
// Chromium the test skips, but under CI=true it fails.
func browser(t *testing.T, ctx context.Context) (context.Context, *tabLog) {
	t.Helper()
	if _, err := Chromium(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true: %v", err)
		}
		t.Skipf("skipping the browser test: %v", err)
	}
	log := &tabLog{}
	tab, cancel, err := NewBrowser(ctx, t.TempDir(), 1280, 900, chromedp.WithListener(log.record))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cancel)
	return tab, log
}

// tabLog is what a tab did that a test checks.
type tabLog struct {
	mu         sync.Mutex
	dialogs    []string
	exceptions []string
	urls       []string
}

func (l *tabLog) record(ev any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch ev := ev.(type) {
	case *page.EventJavascriptDialogOpening:
		l.dialogs = append(l.dialogs, ev.Message)
	case *runtime.EventExceptionThrown:
		l.exceptions = append(l.exceptions, ev.ExceptionDetails.Text)
	case *network.EventRequestWillBeSent:
		l.urls = append(l.urls, ev.Request.URL)
	}
}

func (l *tabLog) check(t *testing.T, origin string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.dialogs) > 0 {
		t.Errorf("the page opened dialogs: %q", l.dialogs)
	}
	if len(l.exceptions) > 0 {
		t.Errorf("the page threw: %q", l.exceptions)
	}
	if len(l.urls) == 0 {
		t.Error("no request recorded")
	}
	for _, u := range l.urls {
		if !strings.HasPrefix(u, origin+"/") {
			t.Errorf("the page requested %s, not of its own origin %s", u, origin)
		}
	}
}

// backend is a real HTTP server on 127.0.0.1.
type backend struct {
	id, addr string
	srv      *http.Server
}

func startBackend(t *testing.T, id string) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{id: id, addr: ln.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello\n") })
	b.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go b.srv.Serve(ln)
	t.Cleanup(func() { b.srv.Close() })
	return b
}

// waitFor polls cond every 20ms until it holds, or fails the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not after %v: %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func stateOf(g *group.Group, id string) health.State {
	for _, b := range g.Stats().Backends {
		if b.ID == id {
			return b.State
		}
	}
	return health.Unknown
}

// row is what a person sees of a backend's row, read in the browser.
type row struct {
	ID, State, StateColor, RowClass string
	WeightText, ObservedText        string
	WeightBar, ObservedBar          float64 // the fill's rendered width, in percent of its track
	Countdown                       string
}

// readRows is the script that reads every backend row.
const readRows = `Array.from(document.querySelectorAll("tr.backend")).map(function (tr) {
  function q(s) { return tr.querySelector(s); }
  function bar(s) {
    var f = q(s), track = f.parentElement;
    return 100 * f.getBoundingClientRect().width / track.getBoundingClientRect().width;
  }
  var chip = q(".state"), cd = q(".countdown");
  return {
    ID: q(".id").textContent, State: chip.textContent, StateColor: getComputedStyle(chip).backgroundColor,
    RowClass: tr.className,
    WeightText: q(".weight-share").textContent, ObservedText: q(".observed-share").textContent,
    WeightBar: bar(".fill.weight"), ObservedBar: bar(".fill.observed"),
    Countdown: cd ? cd.textContent : ""
  };
})`

func rows(t *testing.T, tab context.Context) map[string]row {
	t.Helper()
	list, err := chromedp.Run(tab, chromedp.Evaluate[[]row](readRows))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]row{}
	for _, r := range list {
		out[r.ID] = r
	}
	return out
}

// checkBars checks that each bar is as wide as the share it shows.
func checkBars(t *testing.T, rs map[string]row) {
	t.Helper()
	for id, r := range rs {
		for _, b := range []struct {
			name, text string
			width      float64
		}{{"weight", r.WeightText, r.WeightBar}, {"observed", r.ObservedText, r.ObservedBar}} {
			want := 0.0
			if b.text != "-" {
				if _, err := fmt.Sscanf(b.text, "%f%%", &want); err != nil {
					t.Errorf("%s: %s share %q: %v", id, b.name, b.text, err)
					continue
				}
			}
			if math.Abs(b.width-want) > 1 { // a pixel of a 160px track is 0.6%
				t.Errorf("%s: the %s bar is %.1f%% of its track wide, its text says %q", id, b.name, b.width, b.text)
			}
		}
	}
}

// TestDashboardInBrowser loads the dashboard of a group with a killed
// backend in headless Chromium and checks what a person sees: the
// backend out (ejected, in colour, with a countdown), bars as wide as
// their shares, the page following a weight change without a reload, and
// a hostile backend ID shown as text.
func TestDashboardInBrowser(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	tab, log := browser(t, ctx)

	reg := &group.Registry{}
	g, err := group.New(group.Config{
		Name:     "shop",
		Registry: reg,
		Health: &health.Config{
			Probe: health.HTTPProbe("/healthz"), Interval: time.Second,
			HealthyThreshold: 1, UnhealthyThreshold: 1,
		},
		// One backend of three may be ejected, for 30 s: longer than the test.
		Outlier: &health.OutlierConfig{ConsecutiveFailures: 3, BaseEjectionTime: 30 * time.Second, MaxEjectionPercent: 50},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close(context.Background())

	mux := http.NewServeMux()
	mux.Handle("/debug/elb/", http.StripPrefix("/debug/elb", reg.Handler()))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ops := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go ops.Serve(ln)
	defer ops.Close()
	origin := "http://" + ln.Addr().String()

	alpha, bravo, evil := startBackend(t, "alpha"), startBackend(t, "bravo"), startBackend(t, hostile)
	weights := map[*backend]int{alpha: 50, bravo: 30, evil: 20}
	for b, w := range weights {
		if err := g.Add(group.Backend{ID: b.id, Addr: b.addr, Weight: group.Weight(w)}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "every backend healthy", func() bool { return g.Stats().Available == 3 })

	// Traffic: two clients through httpgroup.Transport, bounded in count
	// and by the test's context.
	client := &http.Client{Transport: httpgroup.NewTransport(g, &http.Transport{}), Timeout: 5 * time.Second}
	var stop atomic.Bool
	var sent atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for !stop.Load() && ctx.Err() == nil && sent.Add(1) < 500_000 {
				resp, err := client.Get("http://shop/")
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	defer func() { stop.Store(true); wg.Wait() }()

	// Kill bravo: its requests fail (the Transport retries them elsewhere)
	// and outlier detection ejects it.
	bravo.srv.Close()
	waitFor(t, 15*time.Second, "bravo ejected or unhealthy", func() bool {
		s := stateOf(g, "bravo")
		return s == health.Ejected || s == health.Unhealthy
	})

	if err := chromedp.Do(tab, chromedp.Navigate(origin+"/debug/elb/shop")); err != nil {
		t.Fatal(err)
	}
	rs := rows(t, tab)
	if len(rs) != 3 {
		t.Fatalf("rows %v, want alpha, bravo and the hostile one", rs)
	}
	b := rs["bravo"]
	if b.State != "ejected" && b.State != "unhealthy" {
		t.Errorf("bravo shows %q, want ejected or unhealthy", b.State)
	}
	if !strings.Contains(b.RowClass, "row-"+b.State) {
		t.Errorf("bravo's row is of class %q", b.RowClass)
	}
	if a := rs["alpha"]; a.State != "healthy" || a.StateColor == b.StateColor {
		t.Errorf("alpha %q in %s, bravo %q in %s: a healthy and an out backend look alike", a.State, a.StateColor, b.State, b.StateColor)
	}
	if b.State == "ejected" && !strings.HasPrefix(b.Countdown, "back in ") {
		t.Errorf("ejected bravo shows no countdown: %q", b.Countdown)
	}
	for id, want := range map[string]string{"alpha": "50.0%", "bravo": "30.0%", hostile: "20.0%"} {
		if got := rs[id].WeightText; got != want {
			t.Errorf("%s: weight share %q, want %q", id, got, want)
		}
	}
	checkBars(t, rs)

	// The hostile ID is text: no element injected, no alert.
	n, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll("img").length`))
	if err != nil || n != 0 {
		t.Errorf("%d img elements (%v): the ID was injected", n, err)
	}
	if _, ok := rs[hostile]; !ok {
		t.Errorf("no row reads %q", hostile)
	}

	// A weight change shows without a reload: the script swaps in the new figures.
	if err := chromedp.Do(tab, chromedp.Evaluate[chromedp.Void](`window.elbMark = 42`)); err != nil {
		t.Fatal(err)
	}
	if err := g.Update(group.Backend{ID: "alpha", Addr: alpha.addr, Weight: group.Weight(10)}); err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(hostile)
	if _, err := chromedp.Run(tab, chromedp.Poll[bool](fmt.Sprintf(`(function () {
  var rs = Array.from(document.querySelectorAll("tr.backend"));
  function share(id) { var r = rs.find(function (r) { return r.dataset.backend === id; }); return r && r.querySelector(".weight-share").textContent; }
  return share("alpha") === "16.7%%" && share("bravo") === "50.0%%" && share(%s) === "33.3%%";
})()`, js), chromedp.WithPollingTimeout(20*time.Second), chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		t.Fatalf("the page did not show alpha's new weight: %v", err)
	}
	mark, err := chromedp.Run(tab, chromedp.Evaluate[int](`window.elbMark`))
	if err != nil || mark != 42 {
		t.Errorf("window.elbMark = %d (%v): the page reloaded", mark, err)
	}
	status, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.getElementById("status").textContent`))
	if err != nil || !strings.HasPrefix(status, "live, every ") { // every second, slower on a loaded machine
		t.Errorf("status %q (%v)", status, err)
	}
	checkBars(t, rows(t, tab))
	n, err = chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll("img").length`))
	if err != nil || n != 0 {
		t.Errorf("%d img elements after the refreshes (%v)", n, err)
	}
	log.check(t, origin)
}

// TestDashboardWithoutScript loads the page with JavaScript off: it shows
// every row all the same.
func TestDashboardWithoutScript(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tab, log := browser(t, ctx)

	reg := &group.Registry{}
	g, err := group.New(group.Config{Name: "web", Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close(context.Background())
	if err := g.Add(group.Backend{ID: "a", Addr: "127.0.0.1:1", Weight: group.Weight(3)}, group.Backend{ID: hostile, Addr: "127.0.0.1:2"}); err != nil {
		t.Fatal(err)
	}
	for range 8 {
		p, err := g.Pick(ctx, group.Request{})
		if err != nil {
			t.Fatal(err)
		}
		p.Done(errors.New("boom")) // failures, counted
	}
	mux := http.NewServeMux()
	mux.Handle("/debug/elb/", http.StripPrefix("/debug/elb", reg.Handler()))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ops := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go ops.Serve(ln)
	defer ops.Close()
	origin := "http://" + ln.Addr().String()

	if _, err := chromedp.Call(tab, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(tab, chromedp.Navigate(origin+"/debug/elb/")); err != nil {
		t.Fatal(err)
	}
	// DevTools evaluation runs with page scripts off.
	status, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.getElementById("status").textContent`))
	if err != nil || status != "refreshes every 5 s (no JavaScript)" {
		t.Errorf("status %q (%v): the page's script ran", status, err)
	}
	rs := rows(t, tab)
	if len(rs) != 2 || rs["a"].WeightText != "75.0%" || rs[hostile].WeightText != "25.0%" {
		t.Errorf("rows %+v", rs)
	}
	checkBars(t, rs)
	log.check(t, origin)
}
