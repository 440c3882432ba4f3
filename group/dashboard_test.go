package group_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
	"github.com/go-elb/elb/sticky"
)

// chromeAccept is the Accept header of a browser's page load.
const chromeAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"

// hostile is a backend ID that is markup.
const hostile = `<img src=x onerror=alert(1)>"'&`

// page parses a dashboard page.
func page(t *testing.T, body string) *html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	require.NoError(t, err)
	return doc
}

// find returns the elements under n that match: a tag name, or ".class".
func find(n *html.Node, sel string) []*html.Node {
	var out []*html.Node
	for c := range n.Descendants() {
		if c.Type != html.ElementNode {
			continue
		}
		if cls, ok := strings.CutPrefix(sel, "."); ok {
			if hasClass(c, cls) {
				out = append(out, c)
			}
		} else if c.Data == sel {
			out = append(out, c)
		}
	}
	return out
}

func hasClass(n *html.Node, cls string) bool {
	for _, a := range n.Attr {
		if a.Key == "class" && strings.Contains(" "+a.Val+" ", " "+cls+" ") {
			return true
		}
	}
	return false
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// text returns the text under n, its white space runs made single spaces.
func text(n *html.Node) string {
	var b strings.Builder
	for c := range n.Descendants() {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
			b.WriteByte(' ')
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// backendRows returns a page's backend rows by their data-backend.
func backendRows(doc *html.Node) map[string]*html.Node {
	out := map[string]*html.Node{}
	for _, tr := range find(doc, ".backend") {
		out[attr(tr, "data-backend")] = tr
	}
	return out
}

// one returns the single element under n matching sel.
func one(t *testing.T, n *html.Node, sel string) *html.Node {
	t.Helper()
	els := find(n, sel)
	require.Len(t, els, 1, sel)
	return els[0]
}

func TestHandlerNegotiatesHTML(t *testing.T) {
	reg, _, _ := opsRegistry(t)
	h := reg.Handler()
	for _, tc := range []struct {
		name, target, accept, want string
	}{
		{"browser", "/", chromeAccept, "text/html; charset=utf-8"},
		{"html alone", "/web", "text/html", "text/html; charset=utf-8"},
		{"html and text alike", "/", "text/plain, text/html", "text/html; charset=utf-8"},
		{"query", "/?format=html", "application/json", "text/html; charset=utf-8"},
		{"curl", "/", "*/*", "text/plain; charset=utf-8"},
		{"none", "/", "", "text/plain; charset=utf-8"},
		{"html below json", "/", "text/html;q=0.5, application/json", "application/json"},
		{"html below text", "/", "text/html;q=0.5, text/plain", "text/plain; charset=utf-8"},
		{"html refused", "/", "text/html;q=0", "text/plain; charset=utf-8"},
		{"format=text beats a browser", "/?format=text", chromeAccept, "text/plain; charset=utf-8"},
		{"format=json beats a browser", "/?format=json", chromeAccept, "application/json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := serve(t, h, http.MethodGet, tc.target, "Accept", tc.accept)
			require.Equal(t, http.StatusOK, resp.StatusCode, body)
			assert.Equal(t, tc.want, resp.Header.Get("Content-Type"))
			assert.Contains(t, resp.Header.Values("Vary"), "Accept")
			if strings.HasPrefix(tc.want, "text/html") {
				assert.True(t, strings.HasPrefix(body, "<!DOCTYPE html>"), body[:min(len(body), 80)])
				assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "script-src 'sha256-")
			}
		})
	}

	// The JSON and the text are what they were for their clients.
	_, asJSON := serve(t, h, http.MethodGet, "/", "Accept", "application/json")
	_, viaQuery := serve(t, h, http.MethodGet, "/?format=json")
	assert.Equal(t, viaQuery, asJSON)

	resp, body := serve(t, h, http.MethodHead, "/web", "Accept", chromeAccept)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Empty(t, body)

	resp, body = serve(t, h, http.MethodGet, "/?format=xml", "Accept", chromeAccept)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, "elb: format \"xml\": want json, text or html\n", body)
	resp, _ = serve(t, h, http.MethodGet, "/nope", "Accept", chromeAccept)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"), "an error is text, whatever the client")
}

// TestDashboardRendersWithoutScript reads the page as a browser without
// JavaScript shows it: every figure is in the markup.
func TestDashboardRendersWithoutScript(t *testing.T) {
	reg, _, _ := opsRegistry(t)
	_, body := serve(t, reg.Handler(), http.MethodGet, "/", "Accept", chromeAccept)
	doc := page(t, body)

	groups := find(doc, "section")
	require.Len(t, groups, 2)
	assert.Equal(t, "api", attr(groups[0], "data-group"))
	assert.Equal(t, "web", attr(groups[1], "data-group"))
	assert.Contains(t, text(groups[1]), "available 2/2 requests 400 failures 1 in flight 0 no backend 0")
	assert.Contains(t, text(groups[1]), "since join")
	assert.Equal(t, []string{"az1 1/1", "az2 1/1"}, texts(find(groups[1], ".zone")))

	rows := backendRows(doc)
	require.Len(t, rows, 3)
	web1 := rows["web-1"]
	assert.Equal(t, "healthy", text(one(t, web1, ".state")))
	assert.True(t, hasClass(one(t, web1, ".state"), "state-healthy"))
	assert.Equal(t, "75.0%", text(one(t, web1, ".weight-share")))
	assert.Equal(t, "75.0%", text(one(t, web1, ".observed-share")))
	assert.Equal(t, "width: 75.0%", attr(one(t, web1, ".weight"), "style"))
	assert.Equal(t, "width: 75.0%", attr(one(t, web1, ".observed"), "style"))
	assert.Equal(t, "width: 25.0%", attr(one(t, rows["web-2"], ".observed"), "style"))
	assert.Contains(t, text(rows["web-2"]), "10.0.0.2:80 az2 healthy 1")

	// Before a sample a second old, the page says its shares count since join.
	assert.Contains(t, text(one(t, groups[1], ".observed-span")), "since each backend joined")
	// A refresh when there is no JavaScript, and a script that does it with.
	metas := find(one(t, doc, "noscript"), "meta")
	if len(metas) == 0 { // the parser keeps noscript's content as text
		assert.Contains(t, text(one(t, doc, "noscript")), `http-equiv="refresh"`)
	}
	scripts := find(doc, "script")
	require.Len(t, scripts, 1)
	assert.Empty(t, attr(scripts[0], "src"), "no external script")
	for _, el := range find(doc, "link") {
		assert.True(t, strings.HasPrefix(attr(el, "href"), "data:"), "no external asset: %s", attr(el, "href"))
	}
	assert.NotContains(t, body, "http://")
	assert.NotContains(t, body, "https://")
}

func texts(ns []*html.Node) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = text(n)
	}
	return out
}

func TestDashboardEscapesEverything(t *testing.T) {
	reg := &group.Registry{}
	h := reg.Handler() // before the group: its events are kept
	c := newChecked(t, group.Config{Name: "shop", Registry: reg, Health: &health.Config{HealthyThreshold: 1, UnhealthyThreshold: 1}},
		group.Backend{ID: hostile, Addr: "10.0.0.1:80", Zone: hostile},
		group.Backend{ID: "plain", Addr: "10.0.0.2:80", Zone: "az1"},
	)
	c.fleet.set("10.0.0.1:80", true)
	c.step(t, 1)
	require.Equal(t, health.Unhealthy, c.state(t, hostile))
	group.WaitEvents(c.Group)

	resp, body := serve(t, h, http.MethodGet, "/", "Accept", chromeAccept)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.NotContains(t, body, "<img")
	assert.NotContains(t, body, `"'&`, "quotes and ampersands are escaped too")
	doc := page(t, body)
	assert.Empty(t, find(doc, "img"), "no element injected")
	row := backendRows(doc)[hostile]
	require.NotNil(t, row, "the row's data-backend is the ID, unescaped by the parser")
	assert.Equal(t, hostile, text(one(t, row, ".id")))
	assert.Equal(t, "unhealthy", text(one(t, row, ".state")))
	assert.Equal(t, "connection refused", text(one(t, row, ".why")))
	assert.Contains(t, texts(find(doc, ".zone")), hostile+" 0/1", "the zone")
	var inEvents []string
	for _, li := range find(one(t, doc, "ol"), "li") {
		if strings.Contains(text(li), hostile) {
			inEvents = append(inEvents, text(one(t, li, ".type")))
		}
	}
	assert.Equal(t, []string{"zone_down", "state_changed", "state_changed", "added"}, inEvents, "newest first")
	assert.Contains(t, text(one(t, doc, "ol")), "healthy → unhealthy: health check failed: connection refused")
	assert.Contains(t, text(one(t, doc, "title")), "shop")
}

func TestDashboardObservedShareIsRecent(t *testing.T) {
	reg := &group.Registry{}
	h := reg.Handler()
	g, clk := newGroup(t, group.Config{Name: "web", Registry: reg},
		group.Backend{ID: "a", Addr: "10.0.0.1:80", Weight: group.Weight(3)},
		group.Backend{ID: "b", Addr: "10.0.0.2:80", Weight: group.Weight(1)},
	)
	shares := func() (a, b, span string) {
		t.Helper()
		_, body := serve(t, h, http.MethodGet, "/web", "Accept", chromeAccept)
		doc := page(t, body)
		rows := backendRows(doc)
		return text(one(t, rows["a"], ".observed-share")), text(one(t, rows["b"], ".observed-share")),
			text(one(t, doc, ".observed-span"))
	}
	counts(t, g, 400) // 300 and 100
	a, b, span := shares()
	assert.Equal(t, []string{"75.0%", "25.0%"}, []string{a, b})
	assert.Contains(t, span, "since each backend joined")

	// b's weight goes to 3: from now on the picks are even.
	require.NoError(t, g.Update(group.Backend{ID: "b", Addr: "10.0.0.2:80", Weight: group.Weight(3)}))
	clk.Advance(2 * time.Second)
	counts(t, g, 200)
	a, b, span = shares()
	assert.Equal(t, []string{"50.0%", "50.0%"}, []string{a, b}, "the last 2 s, not since join (400 of 600 would be 58.3%)")
	assert.Equal(t, "over the last 2.0 s", span)

	// Polled every second for a minute, the window slides: 20 s at most
	// (plus the time to the next sample).
	for range 60 {
		clk.Advance(time.Second)
		_, _, span = shares()
	}
	assert.Equal(t, "over the last 20 s", span)
	_, _, span = shares()
	assert.Equal(t, "over the last 20 s", span, "same time, same base")

	// No requests in the window: no observed share.
	a, b, _ = shares()
	assert.Equal(t, []string{"-", "-"}, []string{a, b})
	counts(t, g, 4)
	clk.Advance(time.Second)
	a, b, _ = shares()
	assert.Equal(t, []string{"50.0%", "50.0%"}, []string{a, b})
}

func TestDashboardShowsEjectionAndRecentEvents(t *testing.T) {
	reg := &group.Registry{}
	h := reg.Handler()
	g, clk := newGroup(t, group.Config{Name: "web", Registry: reg,
		Outlier: &health.OutlierConfig{ConsecutiveFailures: 2, BaseEjectionTime: 3 * time.Second, MaxEjectionPercent: 50}},
		group.Backend{ID: "a", Addr: "10.0.0.1:80"},
		group.Backend{ID: "b", Addr: "10.0.0.2:80"},
	)
	for failed := 0; failed < 2; {
		p, err := g.Pick(ctx, group.Request{})
		require.NoError(t, err)
		if p.ID() == "b" {
			p.Done(errors.New("boom"))
			failed++
			continue
		}
		p.Done(nil)
	}
	group.CaughtUp(g) // ejected now, before the clock moves
	clk.Advance(1200 * time.Millisecond)
	// More than the ring holds: 30 backends join.
	for i := range 30 {
		require.NoError(t, g.Add(group.Backend{ID: fmt.Sprintf("n%02d", i), Addr: fmt.Sprintf("10.0.1.%d:80", i), Weight: group.Weight(0)}))
	}
	group.WaitEvents(g)
	_, body := serve(t, h, http.MethodGet, "/web", "Accept", chromeAccept)
	doc := page(t, body)
	b := backendRows(doc)["b"]
	assert.Equal(t, "ejected", text(one(t, b, ".state")))
	assert.True(t, hasClass(b, "row-ejected"))
	assert.Equal(t, "back in 1.8 s (ejection 1)", text(one(t, b, ".countdown")))
	assert.Equal(t, "available 1/32", text(find(doc, "li")[0]))

	events := find(one(t, doc, "ol"), "li")
	require.Len(t, events, 20, "the last 20")
	assert.Contains(t, text(events[0]), "added n29 10.0.1.29:80, weight 0", "newest first")
	assert.Contains(t, text(events[19]), "added n10 ")
	assert.Regexp(t, regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{3} 0\.0 s ago added n29`), text(events[0]))
}

func TestDashboardPanicAndSticky(t *testing.T) {
	reg := &group.Registry{}
	h := reg.Handler()
	c := newChecked(t, group.Config{Name: "shop", Registry: reg, PanicThreshold: 60,
		Health: &health.Config{HealthyThreshold: 1, UnhealthyThreshold: 1}},
		group.Backend{ID: "a", Addr: "10.0.0.1:80"},
		group.Backend{ID: "b", Addr: "10.0.0.2:80"},
	)
	c.fleet.set("10.0.0.1:80", true)
	c.step(t, 1)
	require.True(t, c.Stats().Panic)
	group.WaitEvents(c.Group)
	_, body := serve(t, h, http.MethodGet, "/shop", "Accept", chromeAccept)
	doc := page(t, body)
	assert.Contains(t, text(one(t, doc, ".banner")), "Panic mode")
	assert.Contains(t, text(one(t, doc, "ol")), "panic too few healthy backends")
	assert.Equal(t, "unhealthy", text(one(t, backendRows(doc)["a"], ".state")))

	// Sticky sessions: the counters, and a column of hits.
	g, _ := newGroup(t, group.Config{Name: "cart", Registry: reg, Sticky: &sticky.Config{Mode: sticky.Header, Header: "X-User"}},
		group.Backend{ID: "c", Addr: "10.0.0.3:80"})
	for range 3 {
		p, err := g.Pick(ctx, group.Request{Affinity: "u1"})
		require.NoError(t, err)
		p.Done(nil)
	}
	_, body = serve(t, h, http.MethodGet, "/cart", "Accept", chromeAccept)
	doc = page(t, body)
	assert.Contains(t, text(doc), "sticky header : hits 2 , misses 1 , rebinds 0 , entries 1")
	assert.Contains(t, texts(find(doc, "th")), "sticky hits")
	assert.Equal(t, "2", text(find(backendRows(doc)["c"], "td")[9]))
}

// TestDashboardSharesAtEverySize checks every row's shares, as text and
// as bar widths, against the weights, from 1 backend to 10000.
func TestDashboardSharesAtEverySize(t *testing.T) {
	// after returns what follows the first marker in s, up to the next '<'
	// or '"'.
	after := func(s, marker string) string {
		_, rest, ok := strings.Cut(s, marker)
		if !ok {
			return "(none)"
		}
		if i := strings.IndexAny(rest, `<"`); i >= 0 {
			return rest[:i]
		}
		return rest
	}
	sizes := []int{1, 2, 3, 10, 100, 164, 500, 1000, 10000}
	if raceEnabled {
		// 1000 and 10000 rows take seconds under the race detector:
		// .ci/run runs this test without it too.
		sizes = sizes[:len(sizes)-2]
	}
	for _, n := range sizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			reg := &group.Registry{}
			h := reg.Handler()
			bs := make([]group.Backend, n)
			weights, total := map[string]int{}, 0
			for i := range bs {
				id := fmt.Sprintf("b%05d", i)
				weights[id] = i%7 + 1
				total += i%7 + 1
				bs[i] = group.Backend{ID: id, Addr: fmt.Sprintf("10.%d.%d.%d:80", i/65536, i/256%256, i%256), Weight: group.Weight(i%7 + 1)}
			}
			g, clk := newGroup(t, group.Config{Name: "big", Registry: reg}, bs...)
			counts(t, g, 3*n)                                           // since join: not the weights
			serve(t, h, http.MethodGet, "/big", "Accept", chromeAccept) // the base sample
			clk.Advance(2 * time.Second)
			counts(t, g, 2*total) // two rounds: each backend twice its weight
			_, body := serve(t, h, http.MethodGet, "/big", "Accept", chromeAccept)
			require.Contains(t, body, "over the last 2.0 s")
			rows := strings.Split(body, `<tr class="backend `)[1:]
			require.Len(t, rows, n)
			for _, r := range rows {
				id := after(r, `data-backend="`)
				want := fmt.Sprintf("%.1f%%", 100*float64(weights[id])/float64(total))
				require.Equal(t, []string{want, want, want, want}, []string{
					after(r, `class="fill weight" style="width: `), after(r, `weight-share">`),
					after(r, `class="fill observed" style="width: `), after(r, `observed-share">`),
				}, id)
			}
		})
	}
}

// BenchmarkHandlerPage serves one group of n backends as the dashboard,
// and as JSON and text for a baseline.
func BenchmarkHandlerPage(b *testing.B) {
	for _, n := range []int{10, 1000} {
		reg := &group.Registry{}
		h := reg.Handler()
		bs := make([]group.Backend, n)
		for i := range bs {
			bs[i] = group.Backend{ID: fmt.Sprintf("b%05d", i), Addr: fmt.Sprintf("10.0.%d.%d:80", i/256, i%256), Weight: group.Weight(i%7 + 1)}
		}
		newGroup(b, group.Config{Name: "big", Registry: reg}, bs...)
		for _, f := range []string{"html", "json", "text"} {
			b.Run(fmt.Sprintf("n=%d/%s", n, f), func(b *testing.B) {
				req := httptest.NewRequest(http.MethodGet, "/big?format="+f, nil)
				for b.Loop() {
					h.ServeHTTP(httptest.NewRecorder(), req)
				}
			})
		}
	}
}

// TestDashboardFollowsTheRegistry serves pages while a group changes and
// closes, and a new group takes its name: every Handler shares one
// dashboard, and a group's events leave with it.
func TestDashboardFollowsTheRegistry(t *testing.T) {
	reg := &group.Registry{}
	h1 := reg.Handler()
	g, err := group.New(group.Config{Name: "web", Registry: reg})
	require.NoError(t, err)
	require.NoError(t, g.Add(group.Backend{ID: "a", Addr: "10.0.0.1:80"}))
	h2 := reg.Handler() // a second handler: the same events

	var wg sync.WaitGroup
	for _, h := range []http.Handler{h1, h2} {
		wg.Go(func() {
			for range 50 {
				resp, body := serve(t, h, http.MethodGet, "/", "Accept", chromeAccept)
				assert.Equal(t, http.StatusOK, resp.StatusCode, body)
			}
		})
	}
	wg.Go(func() {
		for i := range 50 {
			id := fmt.Sprintf("n%d", i)
			assert.NoError(t, g.Add(group.Backend{ID: id, Addr: fmt.Sprintf("10.0.1.%d:80", i)}))
			p, err := g.Pick(ctx, group.Request{})
			if assert.NoError(t, err) {
				p.Done(nil)
			}
			assert.NoError(t, g.Remove(id))
		}
	})
	wg.Wait()
	group.WaitEvents(g)
	_, body := serve(t, h2, http.MethodGet, "/web", "Accept", chromeAccept)
	events := find(one(t, page(t, body), "ol"), "li")
	require.Len(t, events, 20)
	assert.Contains(t, text(events[0]), "removed n49 drained")

	require.NoError(t, g.Close(ctx))
	_, body = serve(t, h1, http.MethodGet, "/", "Accept", chromeAccept)
	assert.Contains(t, body, "No groups are registered.")

	g2, err := group.New(group.Config{Name: "web", Registry: reg})
	require.NoError(t, err)
	defer g2.Close(ctx)
	require.NoError(t, g2.Add(group.Backend{ID: "fresh", Addr: "10.0.0.9:80"}))
	group.WaitEvents(g2)
	_, body = serve(t, h1, http.MethodGet, "/web", "Accept", chromeAccept)
	events = find(one(t, page(t, body), "ol"), "li")
	require.Len(t, events, 1, "the new group's events only")
	assert.Contains(t, text(events[0]), "added fresh")
}

// FuzzHandlerNegotiate: no Accept header or format parameter makes the
// handler fail but with 400 for an unknown format; the answer is one of
// the three formats, the one the parameter names if it names one.
func FuzzHandlerNegotiate(f *testing.F) {
	for _, s := range []struct{ accept, format string }{
		{chromeAccept, ""}, {"*/*", ""}, {"application/json", ""}, {"text/html;q=0.5, application/json", ""},
		{"text/html;q=abc", ""}, {"text/html;;q=1,,", "html"}, {"", "json"}, {"", "text"}, {"", "xml"},
		{"text/html; q=1e309", ""}, {"TEXT/HTML", ""}, {"text/html;q=-1", ""}, {"\x00\xff", "\xff"},
	} {
		f.Add(s.accept, s.format)
	}
	reg := &group.Registry{}
	newGroup(f, group.Config{Name: "web", Registry: reg}, group.Backend{ID: "a", Addr: "10.0.0.1:80"})
	h := reg.Handler()
	types := map[string]string{"json": "application/json", "text": "text/plain; charset=utf-8", "html": "text/html; charset=utf-8"}
	f.Fuzz(func(t *testing.T, accept, format string) {
		target := "/web"
		if format != "" {
			target += "?format=" + url.QueryEscape(format)
		}
		resp, body := serve(t, h, http.MethodGet, target, "Accept", accept)
		ct := resp.Header.Get("Content-Type")
		switch format {
		case "", "json", "text", "html":
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("Accept %q, format %q: %s %s", accept, format, resp.Status, body)
			}
			if want, ok := types[format]; ok && ct != want {
				t.Fatalf("format %q: Content-Type %q", format, ct)
			}
			if ct != types["json"] && ct != types["text"] && ct != types["html"] {
				t.Fatalf("Accept %q: Content-Type %q", accept, ct)
			}
		default:
			if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(body, "elb: format ") {
				t.Fatalf("format %q: %s %s", format, resp.Status, body)
			}
		}
	})
}

// pageTags are the elements the dashboard's template writes.
var pageTags = map[string]bool{"html": true, "head": true, "meta": true, "title": true, "link": true,
	"noscript": true, "style": true, "body": true, "header": true, "h1": true, "span": true, "main": true,
	"p": true, "b": true, "section": true, "div": true, "h2": true, "h3": true, "ul": true, "li": true,
	"table": true, "thead": true, "tbody": true, "tr": true, "th": true, "td": true, "ol": true,
	"footer": true, "code": true, "script": true}

// FuzzDashboardEscapes: whatever a backend's ID and zone, the page holds the template's elements only, one
// script, no event handler attribute, and one row for the backend, which
// shows its ID as text.
func FuzzDashboardEscapes(f *testing.F) {
	for _, s := range []string{hostile, "plain", "</script><script>alert(1)</script>", `" onmouseover="alert(1)`,
		"<!--", "]]>", "javascript:alert(1)", "\x00\xff\xfe", "a\r\nb", "<svg/onload=alert(1)>", "{{.}}", "&lt;"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, id, zone string) {
		reg := &group.Registry{}
		h := reg.Handler()
		g, _ := newGroup(t, group.Config{Name: "shop", Registry: reg}, group.Backend{ID: "plain", Addr: "10.0.0.2:80"})
		if g.Add(group.Backend{ID: id, Addr: "10.0.0.1:80", Zone: zone}) != nil {
			return // an ID or zone the group refuses
		}
		counts(t, g, 2)
		group.WaitEvents(g) // the events show the ID and zone too
		_, body := serve(t, h, http.MethodGet, "/", "Accept", chromeAccept)
		doc := page(t, body)
		scripts := 0
		for n := range doc.Descendants() {
			if n.Type != html.ElementNode {
				continue
			}
			if !pageTags[n.Data] {
				t.Fatalf("ID %q, zone %q: a <%s> element", id, zone, n.Data)
			}
			for _, a := range n.Attr {
				if strings.HasPrefix(a.Key, "on") {
					t.Fatalf("ID %q, zone %q: attribute %s=%q", id, zone, a.Key, a.Val)
				}
			}
			if n.Data == "script" {
				scripts++
			}
		}
		if scripts != 1 {
			t.Fatalf("ID %q, zone %q: %d scripts", id, zone, scripts)
		}
		rows := find(doc, ".backend")
		if len(rows) != 2 {
			t.Fatalf("ID %q, zone %q: %d rows", id, zone, len(rows))
		}
		if id == "" || !utf8.ValidString(id) || strings.ContainsAny(id, "\x00\r") || strings.ContainsFunc(id, unicode.IsControl) {
			return // the parser's normalization changes the text; no markup came of it
		}
		if got := attr(rows[1], "data-backend"); got != id {
			t.Fatalf("row of %q reads %q", id, got)
		}
		if got, want := text(one(t, rows[1], ".id")), strings.Join(strings.Fields(id), " "); got != want {
			t.Fatalf("ID %q shows %q", id, got)
		}
	})
}
