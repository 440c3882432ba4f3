package group_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
)

// statsPage is the JSON the handler serves, decoded as a dashboard
// written in Go would: health.State has no UnmarshalText, so the states
// are read as their names.
type statsPage struct {
	Groups []struct {
		Name      string  `json:"name"`
		Requests  uint64  `json:"requests"`
		Failures  uint64  `json:"failures"`
		Imbalance float64 `json:"imbalance"`
		Backends  []struct {
			ID       string `json:"id"`
			State    string `json:"state"`
			Requests uint64 `json:"requests"`
			Failures uint64 `json:"failures"`
		} `json:"backends"`
	} `json:"groups"`
}

// statsJSON is what the handler's JSON should be for groups: their Stats
// now, in the page's envelope.
func statsJSON(t *testing.T, groups ...*group.Group) string {
	t.Helper()
	page := map[string][]group.Stats{"groups": {}}
	for _, g := range groups {
		page["groups"] = append(page["groups"], g.Stats())
	}
	b, err := json.Marshal(page)
	require.NoError(t, err)
	return string(b)
}

// opsRegistry returns a registry with two groups that have served
// requests: "api" (one backend, 10 requests) and "web" (weights 3 and 1,
// 400 requests, one failure on web-2).
func opsRegistry(t *testing.T) (*group.Registry, *group.Group, *group.Group) {
	t.Helper()
	reg := &group.Registry{}
	web, _ := newGroup(t, group.Config{Name: "web", Registry: reg},
		group.Backend{ID: "web-1", Addr: "10.0.0.1:80", Weight: group.Weight(3), Zone: "az1"},
		group.Backend{ID: "web-2", Addr: "10.0.0.2:80", Weight: group.Weight(1), Zone: "az2"},
	)
	api, _ := newGroup(t, group.Config{Name: "api", Registry: reg}, group.Backend{ID: "api-1", Addr: "10.0.1.1:80"})
	failed := false
	for range 400 {
		p, err := web.Pick(ctx, group.Request{})
		require.NoError(t, err)
		if p.ID() == "web-2" && !failed {
			p.Done(errors.New("boom"))
			failed = true
			continue
		}
		p.Done(nil)
	}
	counts(t, api, 10)
	return reg, web, api
}

// serve sends one request to h and returns the response, its body read.
func serve(t *testing.T, h http.Handler, method, target string, header ...string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	resp := w.Result()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

func TestHandlerJSONIsTheStats(t *testing.T) {
	reg, web, api := opsRegistry(t)
	h := reg.Handler()

	for _, tc := range []struct {
		name, target string
		header       []string
		want         []*group.Group
	}{
		{"accept", "/", []string{"Accept", "application/json"}, []*group.Group{api, web}},
		{"query", "/?format=json", nil, []*group.Group{api, web}},
		{"accept preferring json", "/", []string{"Accept", "text/plain;q=0.5, application/json"}, []*group.Group{api, web}},
		{"path", "/web?format=json", nil, []*group.Group{web}},
		{"group parameter", "/?group=api&format=json", nil, []*group.Group{api}},
		{"path and same parameter", "/api?group=api&format=json", nil, []*group.Group{api}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := serve(t, h, http.MethodGet, tc.target, tc.header...)
			require.Equal(t, http.StatusOK, resp.StatusCode, body)
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
			assert.JSONEq(t, statsJSON(t, tc.want...), body)
		})
	}

	// What a dashboard reads from it.
	_, body := serve(t, h, http.MethodGet, "/web?format=json")
	var page statsPage
	require.NoError(t, json.Unmarshal([]byte(body), &page))
	require.Len(t, page.Groups, 1)
	st := page.Groups[0]
	assert.Equal(t, "web", st.Name)
	assert.Equal(t, uint64(400), st.Requests)
	assert.Equal(t, uint64(1), st.Failures)
	require.Len(t, st.Backends, 2)
	assert.Equal(t, "web-1", st.Backends[0].ID)
	assert.Equal(t, "healthy", st.Backends[0].State)
	assert.Equal(t, uint64(300), st.Backends[0].Requests)
	assert.Equal(t, uint64(100), st.Backends[1].Requests)
	assert.Equal(t, uint64(1), st.Backends[1].Failures)
	assert.InDelta(t, 1.0, st.Imbalance, 1e-9)
}

func TestHandlerEmptyRegistry(t *testing.T) {
	h := (&group.Registry{}).Handler()
	_, body := serve(t, h, http.MethodGet, "/?format=json")
	assert.JSONEq(t, `{"groups":[]}`, body)
	resp, body := serve(t, h, http.MethodGet, "/")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "no groups\n", body)
	resp, body = serve(t, h, http.MethodGet, "/web")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Equal(t, "elb: no group named \"web\" (the registry holds no group)\n", body)
}

// rowRE splits a table line into its cells: tabwriter pads with at least
// two spaces, and no cell of these tests holds two in a row.
var rowRE = regexp.MustCompile(`\s{2,}`)

// rows returns the table lines of a text page by their first cell.
func rows(body string) map[string][]string {
	out := map[string][]string{}
	for line := range strings.SplitSeq(body, "\n") {
		if cells := rowRE.Split(line, -1); len(cells) > 1 {
			out[cells[0]] = cells
		}
	}
	return out
}

func TestHandlerTextTable(t *testing.T) {
	reg, _, _ := opsRegistry(t)
	h := reg.Handler()
	resp, body := serve(t, h, http.MethodGet, "/", "Accept", "*/*") // curl's; a browser's gets HTML
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))

	// Groups by name, each a header line and a table, a blank line between.
	blocks := strings.Split(strings.TrimSuffix(body, "\n"), "\n\n")
	require.Len(t, blocks, 2, body)
	assert.True(t, strings.HasPrefix(blocks[0], "group=api algorithm=weighted_round_robin "), blocks[0])
	webHeader := strings.SplitN(blocks[1], "\n", 2)[0]
	assert.Equal(t, "group=web algorithm=weighted_round_robin route_zone=(all) panic=false available=2/2 "+
		"requests=400 failures=1 in_flight=0 no_backend=0 imbalance=1.00 zones=az1:1/1,az2:1/1", webHeader)

	r := rows(body)
	assert.Equal(t, []string{"BACKEND", "ADDR", "ZONE", "STATE", "WEIGHT", "EFFECTIVE", "IN FLIGHT",
		"REQUESTS", "SHARE", "WEIGHT SHARE", "FAILURES", "LAST ERROR"}, r["BACKEND"])
	assert.Equal(t, []string{"web-1", "10.0.0.1:80", "az1", "healthy", "3", "3", "0", "300", "75.0%", "75.0%", "0", "-"}, r["web-1"])
	assert.Equal(t, []string{"web-2", "10.0.0.2:80", "az2", "healthy", "1", "1", "0", "100", "25.0%", "25.0%", "1", "-"}, r["web-2"])
	assert.Equal(t, []string{"api-1", "10.0.1.1:80", "-", "healthy", "1", "1", "0", "10", "100.0%", "100.0%", "0", "-"}, r["api-1"])

	// Text too when the client rates text/plain above JSON.
	_, preferText := serve(t, h, http.MethodGet, "/", "Accept", "application/json;q=0.4, text/plain")
	assert.Equal(t, body, preferText)

	// format=text wins over Accept; one group by path.
	_, one := serve(t, h, http.MethodGet, "/web?format=text", "Accept", "application/json")
	assert.Equal(t, blocks[1]+"\n", one)
}

func TestHandlerTextShowsTroubles(t *testing.T) {
	reg := &group.Registry{}
	c := newChecked(t, group.Config{Name: "shop", Registry: reg, Algorithm: "round_robin", Health: &health.Config{HealthyThreshold: 1, UnhealthyThreshold: 1}},
		group.Backend{ID: "a", Addr: "10.0.0.1:80", Weight: group.Weight(2)},
		group.Backend{ID: "b", Addr: "10.0.0.2:80", Weight: group.Weight(2)},
		group.Backend{ID: "c", Addr: "10.0.0.3:80", Weight: group.Weight(4)},
		group.Backend{ID: "d", Addr: "10.0.0.4:80", Weight: group.Weight(0)},
	)
	assert.Equal(t, map[string]int{"a": 4, "b": 4, "c": 4}, counts(t, c.Group, 12))

	// b fails its check; a has a request in flight as it is removed.
	c.fleet.set("10.0.0.2:80", true)
	c.step(t, 1)
	require.Equal(t, health.Unhealthy, c.state(t, "b"))
	onC := 0 // picks of c on the way to one of a
	var p group.Pick
	for {
		var err error
		p, err = c.Pick(ctx, group.Request{})
		require.NoError(t, err)
		if p.ID() == "a" {
			break
		}
		onC++
		p.Done(nil)
	}
	require.NoError(t, c.Remove("a"))
	defer p.Done(nil)

	_, body := serve(t, reg.Handler(), http.MethodGet, "/shop")
	r := rows(body)
	// Requests: a 5 (its in-flight one counts), b 4, c 4 and more. Weights
	// of the members b, c and d: 2 + 4 + 0.
	total := 13 + onC
	share := func(n int) string { return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(total)) }
	assert.Equal(t, []string{"a", "10.0.0.1:80", "-", "draining", "2", "2", "1", "5", share(5), "-", "0", "-"}, r["a"])
	assert.Equal(t, []string{"b", "10.0.0.2:80", "-", "unhealthy", "2", "2", "0", "4", share(4), "33.3%", "0", "connection refused"}, r["b"])
	assert.Equal(t, []string{"c", "10.0.0.3:80", "-", "healthy", "4", "4", "0", fmt.Sprint(4 + onC), share(4 + onC), "66.7%", "0", "-"}, r["c"])
	assert.Equal(t, []string{"d", "10.0.0.4:80", "-", "healthy", "0", "0", "0", "0", "0.0%", "0.0%", "0", "-"}, r["d"])
	assert.Contains(t, body, fmt.Sprintf(" available=1/3 requests=%d failures=0 in_flight=1 ", total))
}

func TestWriteTextCutsLongErrors(t *testing.T) {
	st := group.Stats{Name: "my group", Algorithm: "round_robin", Backends: []group.BackendStats{{
		Backend:   group.Backend{ID: "a", Addr: "10.0.0.1:80", Weight: group.Weight(1)},
		State:     health.Unhealthy,
		LastError: "dial tcp 10.0.0.1:80:\tconnect:\nconnection refused " + strings.Repeat("é", 80),
	}}}
	var b strings.Builder
	require.NoError(t, st.WriteText(&b))
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	require.Len(t, lines, 3, "header, column names, one backend: the error's line break is gone")
	assert.True(t, strings.HasPrefix(lines[0], `group="my group" algorithm=round_robin `), "a name with a space is quoted")
	cells := rowRE.Split(lines[2], -1)
	lastErr := cells[len(cells)-1]
	assert.Equal(t, 60, len([]rune(lastErr)))
	assert.True(t, strings.HasPrefix(lastErr, "dial tcp 10.0.0.1:80: connect: connection refused éé"), lastErr)
	assert.True(t, strings.HasSuffix(lastErr, "é..."), lastErr)
	assert.Equal(t, "-", cells[8], "no requests: no share")
}

func TestWriteTextNeutralizesHostileText(t *testing.T) {
	hostile := "x\xff\x1b[31mred\u0085nel\tcol\n\nrow\r\v\f \u202e\x7f\xc3 \ufffdy"
	st := group.Stats{Name: "g\xff\x1b[2J", Algorithm: "round_robin", RouteZone: "\xffaz",
		Zones: []group.ZoneStats{{Zone: "z\xff", Healthy: 1, Backends: 1}},
		Backends: []group.BackendStats{
			{Backend: group.Backend{ID: "id-" + hostile, Addr: "10.0.0.1:80\xff", Weight: group.Weight(1), Zone: "zone-" + hostile}, LastError: "err-" + hostile},
			{Backend: group.Backend{ID: "\t\n", Addr: "10.0.0.2:80", Weight: group.Weight(1)}, LastError: "\xff"},
			{Backend: group.Backend{ID: "plain", Addr: "10.0.0.3:80", Weight: group.Weight(1)}},
		}}
	var b strings.Builder
	require.NoError(t, st.WriteText(&b))
	out := b.String()
	require.True(t, utf8.ValidString(out), "%q", out)
	for _, r := range out {
		assert.True(t, r == '\n' || unicode.IsPrint(r) && r != utf8.RuneError, "rune %U in %q", r, out)
	}

	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 5, "header, column names, three backends: %q", out)
	assert.True(t, strings.HasPrefix(lines[0], `group="g\xff\x1b[2J" algorithm=round_robin route_zone="\xffaz" `), lines[0])
	assert.Contains(t, lines[0], ` zones="z\xff":1/1`)
	for _, line := range lines[1:] {
		assert.Len(t, rowRE.Split(line, -1), 12, "%q", line)
	}
	want := "??[31mred?nel col row ??? ?y" // \xff and ESC, NEL, white space; RLO, DEL, \xc3; U+FFFD
	cells := rowRE.Split(lines[2], -1)
	assert.Equal(t, "id-x"+want, cells[0])
	assert.Equal(t, "10.0.0.1:80?", cells[1])
	assert.Equal(t, "zone-x"+want, cells[2])
	assert.Equal(t, "err-x"+want, cells[11])
	cells = rowRE.Split(lines[3], -1)
	assert.Equal(t, "-", cells[0], "an ID of white space only is empty")
	assert.Equal(t, "?", cells[11])
}

// failWriter fails every write.
type failWriter struct{}

var errDiskFull = errors.New("disk full")

func (failWriter) Write([]byte) (int, error) { return 0, errDiskFull }

func TestWriteTextReturnsWriteError(t *testing.T) {
	st := group.Stats{Name: "web", Backends: []group.BackendStats{{Backend: group.Backend{ID: "a", Addr: "10.0.0.1:80"}}}}
	require.ErrorIs(t, st.WriteText(failWriter{}), errDiskFull)
}

func TestHandlerErrors(t *testing.T) {
	reg, _, _ := opsRegistry(t)
	h := reg.Handler()

	resp, body := serve(t, h, http.MethodGet, "/nope")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Equal(t, "elb: no group named \"nope\" (groups: \"api\", \"web\")\n", body)

	resp, body = serve(t, h, http.MethodGet, "/?group=nope", "Accept", "application/json")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	assert.JSONEq(t, `{"error":"elb: no group named \"nope\" (groups: \"api\", \"web\")"}`, body)

	resp, body = serve(t, h, http.MethodPost, "/web")
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	assert.Equal(t, "GET, HEAD", resp.Header.Get("Allow"))
	assert.Equal(t, "elb: method POST not allowed: use GET or HEAD\n", body)
	resp, body = serve(t, h, http.MethodDelete, "/web?format=json")
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	assert.JSONEq(t, `{"error":"elb: method DELETE not allowed: use GET or HEAD"}`, body)

	for _, target := range []string{"/?format=xml", "/web?group=api", "/?group="} {
		resp, body = serve(t, h, http.MethodGet, target)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, target)
		assert.True(t, strings.HasPrefix(body, "elb: "), body)
	}

	resp, body = serve(t, h, http.MethodHead, "/web")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Empty(t, body)
}

func TestHandlerUnderPrefix(t *testing.T) {
	reg, web, _ := opsRegistry(t)
	mux := http.NewServeMux()
	mux.Handle("/debug/elb/", http.StripPrefix("/debug/elb", reg.Handler()))

	_, body := serve(t, mux, http.MethodGet, "/debug/elb/web?format=json")
	assert.JSONEq(t, statsJSON(t, web), body)

	_, body = serve(t, mux, http.MethodGet, "/debug/elb/")
	assert.Len(t, rows(body)["BACKEND"], 12)
	assert.Equal(t, 2, strings.Count(body, "BACKEND"), "both groups")

	resp, _ := serve(t, mux, http.MethodGet, "/debug/elb/missing")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)

	// Mounted without StripPrefix, the whole path is taken for a name.
	mux.Handle("/raw/", reg.Handler())
	resp, body = serve(t, mux, http.MethodGet, "/raw/web")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Contains(t, body, `no group named "raw/web"`)
	assert.Contains(t, body, "http.StripPrefix")
}

// A Registry's Handler, mounted under /debug/elb/ of an operations
// server, shows every group's backends: state, weight, and how the
// requests were spread.
func ExampleRegistry_Handler() {
	reg := &group.Registry{}
	g, err := group.New(group.Config{Name: "web", Registry: reg})
	if err != nil {
		panic(err)
	}
	defer g.Close(ctx)
	err = g.Add(
		group.Backend{ID: "web-1", Addr: "10.0.0.1:8080", Weight: group.Weight(3), Zone: "az1"},
		group.Backend{ID: "web-2", Addr: "10.0.0.2:8080", Weight: group.Weight(1), Zone: "az2"},
	)
	if err != nil {
		panic(err)
	}
	for range 8 {
		p, _ := g.Pick(ctx, group.Request{})
		p.Done(nil)
	}

	mux := http.NewServeMux()
	mux.Handle("/debug/elb/", http.StripPrefix("/debug/elb", reg.Handler()))
	// http.ListenAndServe("127.0.0.1:6060", mux), say; here, one request.
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", "/debug/elb/web", nil))
	fmt.Print(w.Body.String())
	// Output:
	// group=web algorithm=weighted_round_robin route_zone=(all) panic=false available=2/2 requests=8 failures=0 in_flight=0 no_backend=0 imbalance=1.00 zones=az1:1/1,az2:1/1
	// BACKEND  ADDR           ZONE  STATE    WEIGHT  EFFECTIVE  IN FLIGHT  REQUESTS  SHARE  WEIGHT SHARE  FAILURES  LAST ERROR
	// web-1    10.0.0.1:8080  az1   healthy  3       3          0          6         75.0%  75.0%         0         -
	// web-2    10.0.0.2:8080  az2   healthy  1       1          0          2         25.0%  25.0%         0         -
}

// Stats.WriteText is the handler's text, for a program's own output.
func ExampleStats_WriteText() {
	g, err := group.New(group.Config{Name: "api", Algorithm: "round_robin"})
	if err != nil {
		panic(err)
	}
	defer g.Close(ctx)
	if err := g.Add(group.Backend{Addr: "10.0.0.1:9090"}, group.Backend{Addr: "10.0.0.2:9090", Weight: group.Weight(0)}); err != nil {
		panic(err)
	}
	p, _ := g.Pick(ctx, group.Request{})
	p.Done(nil)
	if err := g.Stats().WriteText(os.Stdout); err != nil {
		panic(err)
	}
	// Output:
	// group=api algorithm=round_robin route_zone=(all) panic=false available=1/2 requests=1 failures=0 in_flight=0 no_backend=0 imbalance=1.00
	// BACKEND        ADDR           ZONE  STATE    WEIGHT  EFFECTIVE  IN FLIGHT  REQUESTS  SHARE   WEIGHT SHARE  FAILURES  LAST ERROR
	// 10.0.0.1:9090  10.0.0.1:9090  -     healthy  1       1          0          1         100.0%  100.0%        0         -
	// 10.0.0.2:9090  10.0.0.2:9090  -     healthy  0       0          0          0         0.0%    0.0%          0         -
}
