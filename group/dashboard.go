package group

import (
	"bytes"
	"crypto/sha256"
	_ "embed" // the dashboard's template and script
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/go-elb/elb/health"
)

// The dashboard's figures (see Registry.Handler).
const (
	// dashEvents is how many of a group's last events the dashboard shows.
	dashEvents = 20
	// dashWindow is how far back the observed shares count requests.
	dashWindow = 20 * time.Second
	// dashSampleEvery is the least time between two samples of a group's
	// request counters, and the least span the observed shares count over.
	dashSampleEvery = time.Second
	// dashMaxSamples bounds a group's samples, however the page is polled.
	dashMaxSamples = 64
	// dashNoScriptRefresh is the page's refresh, in seconds, without
	// JavaScript (with it, the script fetches the page every second).
	dashNoScriptRefresh = 5
)

var (
	//go:embed dashboard.html
	dashboardHTML string
	//go:embed dashboard.js
	dashboardJS string

	dashboardTemplate = template.Must(template.New("dashboard").Parse(dashboardHTML))

	// dashboardCSP lets the page run its own script and nothing else: no
	// other script, no inline event handler, no request but to its own
	// origin, no image but data: URLs (the empty favicon).
	dashboardCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'; " +
		"base-uri 'none'; form-action 'none'; frame-ancestors 'none'; script-src 'sha256-" + scriptHash(dashboardJS) + "'"
)

// scriptHash returns the base64 SHA-256 of an inline script, as a
// Content-Security-Policy names it.
func scriptHash(js string) string {
	h := sha256.Sum256([]byte(js))
	return base64.StdEncoding.EncodeToString(h[:])
}

// dashboard is what a Registry's Handler keeps between requests, per
// group: the last events, from a subscription, and samples of the request
// counters, for the observed shares.
type dashboard struct {
	mu     sync.Mutex
	groups map[*Group]*groupWatch
}

// groupWatch is the dashboard's part of one group.
type groupWatch struct {
	cancel  func()
	events  eventRing
	samples []sample // oldest first; guarded by dashboard.mu
}

// sample is a group's request counters at a time: the Requests of the
// backends keys lists, in Stats order. Successive samples of a group whose
// backends did not change share one keys slice.
type sample struct {
	at       time.Time
	keys     []backendKey
	requests []uint64
}

// backendKey tells the backends of a Stats apart: an ID that left may be
// draining while a backend of the same ID is a member again.
type backendKey struct{ id, addr string }

// watch subscribes to g's events. The caller holds the registry's lock.
func (d *dashboard) watch(g *Group) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.groups[g]; ok {
		return
	}
	w := &groupWatch{}
	w.cancel = g.Subscribe(w.events.add)
	d.groups[g] = w
}

// unwatch forgets g. The caller holds the registry's lock.
func (d *dashboard) unwatch(g *Group) {
	d.mu.Lock()
	w, ok := d.groups[g]
	delete(d.groups, g)
	d.mu.Unlock()
	if ok {
		w.cancel()
	}
}

// eventRing holds a group's last dashEvents events.
type eventRing struct {
	mu      sync.Mutex
	buf     [dashEvents]Event
	next, n int
}

// add is the ring's subscriber: it keeps ev, dropping the oldest event.
func (r *eventRing) add(ev Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf[r.next] = ev
	r.next = (r.next + 1) % len(r.buf)
	r.n = min(r.n+1, len(r.buf))
}

// last returns the events held, newest first.
func (r *eventRing) last() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Event, r.n)
	for i := range out {
		out[i] = r.buf[(r.next-1-i+2*len(r.buf))%len(r.buf)]
	}
	return out
}

// observe records st's request counters, taken at now, as a sample (at
// most one each dashSampleEvery), and returns each backend's requests
// since the newest sample at least dashWindow old, or else the oldest
// sample, with the time since then; ok is false if there is no sample at
// least dashSampleEvery old. The caller holds dashboard.mu.
func (w *groupWatch) observe(now time.Time, st Stats) (recent []uint64, span time.Duration, ok bool) {
	base := 0 // the base sample's index
	for i := range w.samples {
		if now.Sub(w.samples[i].at) >= dashWindow {
			base = i
		}
	}
	w.samples = w.samples[base:] // those before the base serve no more
	keys := make([]backendKey, len(st.Backends))
	for i, bs := range st.Backends {
		keys[i] = backendKey{bs.ID, bs.Addr}
	}
	if len(w.samples) > 0 && now.Sub(w.samples[0].at) >= dashSampleEvery {
		b := w.samples[0]
		span, ok = now.Sub(b.at), true
		recent = make([]uint64, len(st.Backends))
		var at map[backendKey]int // b's index of a key, if b's keys differ
		if !slices.Equal(b.keys, keys) {
			at = make(map[backendKey]int, len(b.keys))
			for i, k := range b.keys {
				at[k] = i
			}
		}
		for i, bs := range st.Backends {
			j, seen := i, at == nil
			if !seen {
				j, seen = at[keys[i]]
			}
			recent[i] = bs.Requests
			if seen && b.requests[j] <= bs.Requests {
				recent[i] -= b.requests[j] // else it joined since, or left and came back
			}
		}
	}
	if n := len(w.samples); n == 0 || now.Sub(w.samples[n-1].at) >= dashSampleEvery {
		if n > 0 && slices.Equal(w.samples[n-1].keys, keys) {
			keys = w.samples[n-1].keys
		}
		s := sample{at: now, keys: keys, requests: make([]uint64, len(st.Backends))}
		for i, bs := range st.Backends {
			s.requests[i] = bs.Requests
		}
		if len(w.samples) == dashMaxSamples {
			w.samples = append(w.samples[:0], w.samples[1:]...)
		}
		w.samples = append(w.samples, s)
	}
	return recent, span, ok
}

// serveHTML writes the dashboard page of groups, whose Stats are stats.
func (d *dashboard) serveHTML(w http.ResponseWriter, req *http.Request, groups []*Group, stats []Stats) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", dashboardCSP)
	if req.Method == http.MethodHead {
		return
	}
	page := pageView{
		Script:  template.JS(dashboardJS),
		Refresh: dashNoScriptRefresh,
		Window:  seconds(dashWindow),
		Events:  dashEvents,
	}
	for i, g := range groups {
		now := g.cfg.Clock.Now()
		d.mu.Lock()
		gw := d.groups[g]
		var recent []uint64
		var span time.Duration
		ok := false
		if gw != nil { // nil if g left the registry since it was listed
			recent, span, ok = gw.observe(now, stats[i])
		}
		d.mu.Unlock()
		var events []Event
		if gw != nil {
			events = gw.events.last()
		}
		page.Groups = append(page.Groups, newGroupView(now, stats[i], recent, span, ok, events))
		if page.Updated == "" {
			page.Updated = now.Format("15:04:05 MST")
		}
	}
	if page.Updated == "" {
		page.Updated = time.Now().Format("15:04:05 MST")
	}
	var buf bytes.Buffer
	if err := dashboardTemplate.Execute(&buf, page); err != nil {
		writeError(w, req, false, http.StatusInternalServerError, "dashboard: "+err.Error())
		return
	}
	_, _ = w.Write(buf.Bytes()) // a failed write is the client's loss
}

// pageView is what the dashboard template shows.
type pageView struct {
	Groups  []groupView
	Updated string      // the time of the page, as a clock shows it
	Window  string      // dashWindow, as "20 s"
	Events  int         // dashEvents
	Refresh int         // dashNoScriptRefresh
	Script  template.JS // dashboardJS
}

// groupView is one group's part of the page.
type groupView struct {
	Stats
	Members         int
	Subset          int    // the members in this client's subset, if some are outside it
	RecentImbalance string // over the observed shares; "-" without them
	Observed        string // what the observed shares count
	Recent          bool   // they count the last Observed, not since join
	Backends        []backendView
	Zones           []zoneView
	Events          []eventView
}

// backendView is one backend's row. Its fields are its own, not an
// embedded BackendStats: the template finds them faster.
type backendView struct {
	ID, Addr, Zone string
	State          string // its name
	Weight         int
	Effective      string // the effective weight, if slow start lowers it
	WeightShare    shareView
	Share          shareView
	InFlight       int64
	Requests       uint64
	Failures       uint64
	FailedInRow    uint32
	Latency        string
	Ejection       string // the countdown to the ejection's end, and the count
	Checks         string // the current run of failed (or, on the way in, passed) probes
	LastError      string
	Unreachable    string
	Outside        bool // outside this client's subset: never picked
	StickyHits     uint64
}

// shareView is a share as text and as a bar's width.
type shareView struct {
	Text  string // "37.5%", or "-" for none
	Width string // "37.5%", or "0%" for none
}

// zoneView is one zone's health.
type zoneView struct {
	ZoneStats
	Class string // "ok", "some" (some unhealthy) or "down"
}

// eventView is one event's line.
type eventView struct {
	Time, Ago, Type, Class, Backend, Detail string
}

// newGroupView builds a group's part of the page from its Stats taken at
// now, its backends' recent requests (ok: over span) and its last events.
func newGroupView(now time.Time, st Stats, recent []uint64, span time.Duration, ok bool, events []Event) groupView {
	v := groupView{Stats: st, RecentImbalance: "-", Recent: ok}
	if !ok {
		v.Observed = "since each backend joined (the window fills as the page refreshes)"
		recent = make([]uint64, len(st.Backends))
		for i, b := range st.Backends {
			recent[i] = b.Requests
		}
	} else {
		v.Observed = "over the last " + seconds(span)
	}
	shares, wshares := requestShares(recent), weightShares(st.Backends)
	for i, b := range st.Backends {
		if b.State != health.Draining {
			v.Members++
		}
		bv := backendView{
			ID: b.ID, Addr: b.Addr, Zone: b.Zone,
			State:       b.State.String(),
			Weight:      b.weight(),
			WeightShare: newShareView(wshares[i]),
			Share:       newShareView(shares[i]),
			InFlight:    b.InFlight, Requests: b.Requests, Failures: b.Failures, FailedInRow: b.FailedInRow,
			Latency:   latency(b.Latency),
			LastError: b.LastError, Unreachable: b.Unreachable, Outside: b.OutsideSubset, StickyHits: b.StickyHits,
		}
		if b.EffectiveWeight < float64(bv.Weight) {
			bv.Effective = strconv.FormatFloat(b.EffectiveWeight, 'f', 1, 64)
		}
		if left := b.EjectedUntil.Sub(now); !b.EjectedUntil.IsZero() && left > 0 {
			bv.Ejection = "back in " + strconv.FormatFloat(left.Seconds(), 'f', 1, 64) + " s"
			if b.Ejections > 0 {
				bv.Ejection += " (ejection " + strconv.Itoa(b.Ejections) + ")"
			}
		}
		switch {
		case b.CheckFailures > 0:
			bv.Checks = plural(b.CheckFailures, "failed probe")
		case b.CheckSuccesses > 0 && (b.State == health.Initial || b.State == health.Unhealthy): // on the way in
			bv.Checks = plural(b.CheckSuccesses, "passed probe")
		}
		v.Backends = append(v.Backends, bv)
	}
	if n, some := subsetSize(st.Backends); some {
		v.Subset = n
	}
	if ok {
		v.RecentImbalance = recentImbalance(st, shares)
	}
	for _, z := range st.Zones {
		zv := zoneView{ZoneStats: z, Class: "ok"}
		switch {
		case z.Healthy == 0:
			zv.Class = "down"
		case z.Healthy < z.Backends:
			zv.Class = "some"
		}
		v.Zones = append(v.Zones, zv)
	}
	for _, ev := range events {
		v.Events = append(v.Events, newEventView(now, ev))
	}
	return v
}

// recentImbalance is Stats.Imbalance over the observed shares: the
// largest, over the healthy backends with a weight (every member with a
// weight in panic mode) of this client's subset, of a backend's share of their requests over its
// share of their weight, with two decimals; "-" if they served nothing.
func recentImbalance(st Stats, shares []float64) string {
	in := func(b BackendStats) bool {
		return b.EffectiveWeight > 0 && balanced(b) && (b.State == health.Healthy || st.Panic)
	}
	var share, weight float64
	for i, b := range st.Backends {
		if in(b) && shares[i] > 0 {
			share += shares[i]
		}
		if in(b) {
			weight += b.EffectiveWeight
		}
	}
	if share == 0 || weight == 0 {
		return "-"
	}
	worst := 0.0
	for i, b := range st.Backends {
		if in(b) {
			worst = max(worst, max(shares[i], 0)/share/(b.EffectiveWeight/weight))
		}
	}
	return strconv.FormatFloat(worst, 'f', 2, 64)
}

// newShareView returns a share (see requestShares) as text and a width.
func newShareView(f float64) shareView {
	if f < 0 {
		return shareView{Text: "-", Width: "0%"}
	}
	p := percent(f)
	return shareView{Text: p, Width: p}
}

// newEventView returns an event as a line of the page, at now.
func newEventView(now time.Time, ev Event) eventView {
	v := eventView{
		Time:    ev.Time.Format("15:04:05.000"),
		Ago:     seconds(now.Sub(ev.Time).Truncate(100*time.Millisecond)) + " ago",
		Type:    ev.Type.String(),
		Backend: ev.Backend.ID,
	}
	switch ev.Type {
	case EventAdded:
		v.Detail = fmt.Sprintf("%s, weight %d", ev.Backend.Addr, ev.Backend.weight())
		if ev.Backend.Zone != "" {
			v.Detail += ", zone " + ev.Backend.Zone
		}
	case EventUpdated:
		v.Detail = fmt.Sprintf("weight %d", ev.Backend.weight())
		if ev.Backend.Zone != "" {
			v.Detail += ", zone " + ev.Backend.Zone
		}
	case EventDraining:
		v.Detail = plural(int(ev.InFlight), "request") + " in flight"
	case EventRemoved:
		v.Detail = "drained"
		if ev.InFlight > 0 {
			v.Class = "bad"
			v.Detail = "the drain timeout cut " + plural(int(ev.InFlight), "request") + " off"
		}
	case EventStateChanged:
		v.Detail = ev.From.String() + " → " + ev.State.String()
		if ev.Reason != "" {
			v.Detail += ": " + ev.Reason
		}
		v.Class = "good"
		if !ev.State.Serving() {
			v.Class = "bad"
		}
	case EventZoneDown, EventZoneUp:
		v.Detail = "zone " + ev.Zone
		v.Class = "good"
		if ev.Type == EventZoneDown {
			v.Class = "bad"
		}
	case EventPanic:
		v.Class, v.Detail = "bad", "too few healthy backends: picks go to every backend with a weight"
	case EventPanicEnd:
		v.Class, v.Detail = "good", "enough backends are healthy again"
	}
	return v
}

// seconds formats d as seconds, with one decimal below 10 s.
func seconds(d time.Duration) string {
	if d < 10*time.Second {
		return strconv.FormatFloat(max(d.Seconds(), 0), 'f', 1, 64) + " s"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 0, 64) + " s"
}

// latency formats a latency with three significant digits at most, "-"
// for none.
func latency(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Millisecond:
		return strconv.FormatFloat(float64(d)/float64(time.Microsecond), 'f', 0, 64) + " µs"
	case d < 100*time.Millisecond:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + " ms"
	case d < time.Second:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 0, 64) + " ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + " s"
}

// plural returns "1 thing" or "n things".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return strconv.Itoa(n) + " " + thing + "s"
}
