package group

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"

	"github.com/go-elb/elb/health"
)

// Handler returns an http.Handler that shows the registry's groups and
// their Stats, for operators: what each backend's state, weight and share
// of the requests are, and why a backend is out. It reads the groups
// registered at the time of each request.
//
// Mount it under a prefix with http.StripPrefix; what is left of the path
// after the prefix selects the groups:
//
//	mux.Handle("/debug/elb/", http.StripPrefix("/debug/elb", reg.Handler()))
//
//	GET /debug/elb/              every group, sorted by name
//	GET /debug/elb/orders        the group named "orders" (?group=orders too)
//	GET /debug/elb/?format=json  JSON rather than text (format=text, format=html)
//
// A name that no group has gets 404 Not Found, with a message listing the
// names there are. The response is text, one Stats.WriteText after the
// other (a header line and a table per group), unless the query says
// format=json or format=html, or the Accept header rates text/html above
// zero and at least as high as application/json and text/plain (HTML), or
// application/json above zero and at least as high as text/plain (JSON).
// Wildcards such as curl's */* choose nothing: text is the default. JSON is the
// object {"groups": [Stats, ...]}, the same shape for one group as for
// all. HTML, which a browser asks for, is a dashboard page: see below.
// Only GET and HEAD are allowed (405 Method Not Allowed otherwise).
//
// The dashboard shows, per group, the totals, zone health, panic mode and
// sticky counters, and per backend its state (in colour), its weight share
// next to its observed share as bars, requests, failures, in flight,
// latency, the ejection's countdown and the last health-check error; and
// the group's last 20 events, newest first. The observed share counts the
// requests of the last 20 seconds, from samples of each group's request
// counters that the handler takes as it serves the page (at most one a
// second, 64 at most per group); until it has a sample a second old, the
// page counts since each backend joined, and says which. The page needs
// no JavaScript and nothing from elsewhere (its style and script are
// inline): with JavaScript it fetches itself every second (or four times
// as long as a fetch takes, if that is more) and swaps in the new figures
// without a reload; without, it refreshes every 5 seconds. Every value is escaped (html/template), and a
// Content-Security-Policy lets only the page's own script run.
//
// The events are those since the registry's first Handler call: from then
// on the registry subscribes (Group.Subscribe) to each group it holds, and
// keeps each group's last events in a ring, off the request path.
//
// The response shows backend addresses and health-check errors: serve it
// where only operators can reach it, as one does net/http/pprof.
func (r *Registry) Handler() http.Handler {
	return statsHandler{reg: r, dash: r.watch()}
}

// statsHandler is what Registry.Handler returns.
type statsHandler struct {
	reg  *Registry
	dash *dashboard
}

// statsPage is the JSON body statsHandler serves.
type statsPage struct {
	Groups []Stats `json:"groups"`
}

// errorPage is the JSON body of an error.
type errorPage struct {
	Error string `json:"error"`
}

func (h statsHandler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Add("Vary", "Accept")
	f, err := negotiate(req)
	asJSON := f == formatJSON
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, req, asJSON, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed: use GET or HEAD", req.Method))
		return
	}
	if err != nil {
		writeError(w, req, false, http.StatusBadRequest, err.Error())
		return
	}
	groups, status, msg := h.selectGroups(req)
	if status != http.StatusOK {
		writeError(w, req, asJSON, status, msg)
		return
	}
	page := statsPage{Groups: make([]Stats, len(groups))}
	for i, g := range groups {
		page.Groups[i] = g.Stats()
	}
	switch f {
	case formatHTML:
		h.dash.serveHTML(w, req, groups, page.Groups)
		return
	case formatJSON:
		w.Header().Set("Content-Type", "application/json")
		if req.Method == http.MethodHead {
			return
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(page) // a failed write is the client's loss
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if req.Method == http.MethodHead {
		return
	}
	if len(page.Groups) == 0 {
		io.WriteString(w, "no groups\n")
		return
	}
	for i, st := range page.Groups {
		if i > 0 {
			io.WriteString(w, "\n")
		}
		if st.WriteText(w) != nil {
			return
		}
	}
}

// selectGroups returns the groups a request asks for: the one named by
// the path (after the prefix) or the group parameter, or every group. The
// status is http.StatusOK, or the error status with its message.
func (h statsHandler) selectGroups(req *http.Request) ([]*Group, int, string) {
	name := strings.TrimPrefix(req.URL.Path, "/")
	if q := req.URL.Query(); q.Has("group") {
		qn := q.Get("group")
		if name != "" && name != qn {
			return nil, http.StatusBadRequest, fmt.Sprintf("the path names group %q, the group parameter %q", name, qn)
		}
		if qn == "" {
			return nil, http.StatusBadRequest, "the group parameter is empty"
		}
		name = qn
	}
	if name == "" {
		return h.reg.Groups(), http.StatusOK, ""
	}
	if g, ok := h.reg.Group(name); ok {
		return []*Group{g}, http.StatusOK, ""
	}
	var names []string
	for _, g := range h.reg.Groups() {
		names = append(names, strconv.Quote(g.Name()))
	}
	have := "the registry holds no group"
	if len(names) > 0 {
		have = "groups: " + strings.Join(names, ", ")
	}
	msg := fmt.Sprintf("no group named %q (%s)", name, have)
	if strings.Contains(name, "/") {
		msg += "; is the handler mounted with http.StripPrefix?"
	}
	return nil, http.StatusNotFound, msg
}

// writeError writes an error response, as JSON or as text.
func writeError(w http.ResponseWriter, req *http.Request, asJSON bool, status int, msg string) {
	msg = "elb: " + msg
	if asJSON {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if req.Method != http.MethodHead {
			_ = json.NewEncoder(w).Encode(errorPage{Error: msg})
		}
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	if req.Method != http.MethodHead {
		io.WriteString(w, msg+"\n")
	}
}

// format is what a response is written as.
type format uint8

const (
	formatText format = iota
	formatJSON
	formatHTML
)

// negotiate returns the format a request asks for: the query's format
// (json, text or html) or, with none, the Accept header's: HTML if it rates
// text/html above zero and at least as high as application/json and
// text/plain, else JSON if it rates application/json above zero and at
// least as high as text/plain, else text. Wildcards choose nothing: text
// is the default.
func negotiate(req *http.Request) (format, error) {
	switch f := req.URL.Query().Get("format"); f {
	case "json":
		return formatJSON, nil
	case "text":
		return formatText, nil
	case "html":
		return formatHTML, nil
	case "":
	default:
		return formatText, fmt.Errorf("format %q: want json, text or html", f)
	}
	qJSON, qText, qHTML := -1.0, -1.0, -1.0
	for _, v := range req.Header.Values("Accept") {
		for part := range strings.SplitSeq(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			q := 1.0
			if s, ok := params["q"]; ok {
				if q, err = strconv.ParseFloat(s, 64); err != nil {
					continue
				}
			}
			switch mt {
			case "application/json":
				qJSON = max(qJSON, q)
			case "text/plain":
				qText = max(qText, q)
			case "text/html":
				qHTML = max(qHTML, q)
			}
		}
	}
	switch {
	case qHTML > 0 && qHTML >= qJSON && qHTML >= qText:
		return formatHTML, nil
	case qJSON > 0 && qJSON >= qText:
		return formatJSON, nil
	}
	return formatText, nil
}

// lastErrorWidth bounds the LAST ERROR column of Stats.WriteText, in
// characters.
const lastErrorWidth = 60

// WriteText writes s for people to read: a header line of key=value
// pairs, then a table of the backends, in the order Stats lists them.
//
// The header line gives the group's name, algorithm, route_zone (the zone
// picks are confined to, "(all)" when they spread over every zone), panic,
// available (backends in the pick set / members), the totals (requests,
// failures, in_flight, no_backend), imbalance, with subsetting the members
// in this client's subset (subset=, shown while some member is outside
// it: see SubsetConfig), each zone's healthy
// backends / backends, and with sticky sessions the mode and its hits,
// misses and rebinds.
//
// The table's columns are BACKEND (the ID), ADDR, ZONE, STATE (the
// health state, or "outside-subset" for a member outside this client's
// subset, which is neither probed nor picked), WEIGHT (the
// configured weight, 0-100), EFFECTIVE (the weight balanced
// with, lower during slow start), IN FLIGHT, REQUESTS, SHARE, WEIGHT
// SHARE, FAILURES and LAST ERROR (the last health check's, cut to 60
// characters); an empty cell shows "-". SHARE is the backend's part of
// the requests of the listed backends (backends that have left the group
// are not listed); WEIGHT SHARE its effective weight's part of the
// members' total, healthy or not ("-" for a draining backend and for a
// member outside this client's subset, which is never picked). Where the
// two differ, the requests did not follow the weights: a backend was out
// for a while, its weight changed, sticky sessions pinned clients, or the
// algorithm ignores weights.
//
// A cell can neither break the table nor send control sequences to a
// terminal: its white space (tabs and line breaks too) shows as single
// spaces, and a character that is not printable or a byte that is not
// valid UTF-8 as '?'. In the header line, a value with such characters is
// quoted, as strconv.Quote does.
//
// WriteText returns the first error writing to w.
func (s Stats) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	s.writeHeader(ew)
	counts := make([]uint64, len(s.Backends))
	for i, b := range s.Backends {
		counts[i] = b.Requests
	}
	shares, wshares := requestShares(counts), weightShares(s.Backends)
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	io.WriteString(tw, "BACKEND\tADDR\tZONE\tSTATE\tWEIGHT\tEFFECTIVE\tIN FLIGHT\tREQUESTS\tSHARE\tWEIGHT SHARE\tFAILURES\tLAST ERROR\n")
	for i, b := range s.Backends {
		share, wshare := percent(shares[i]), percent(wshares[i])
		state := b.State.String()
		if b.OutsideSubset {
			state = "outside-subset" // neither probed nor picked: its State says nothing
		}
		// cell shows an empty value as "-", not blank: a table line does
		// not end in spaces.
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%d\t%d\t%s\t%s\t%d\t%s\n",
			cell(b.ID), cell(b.Addr), cell(b.Zone), cell(state), b.weight(), strconv.FormatFloat(b.EffectiveWeight, 'f', -1, 64),
			b.InFlight, b.Requests, share, wshare, b.Failures, truncate(cell(b.LastError), lastErrorWidth))
	}
	tw.Flush()
	return ew.err
}

// writeHeader writes WriteText's header line.
func (s Stats) writeHeader(w io.Writer) {
	route := "(all)"
	if s.RouteZone != "" {
		route = textValue(s.RouteZone)
	}
	members := 0
	for _, b := range s.Backends {
		if b.State != health.Draining {
			members++
		}
	}
	fmt.Fprintf(w, "group=%s algorithm=%s route_zone=%s panic=%t available=%d/%d requests=%d failures=%d in_flight=%d no_backend=%d imbalance=%.2f",
		textValue(s.Name), textValue(s.Algorithm), route, s.Panic, s.Available, members,
		s.Requests, s.Failures, s.InFlight, s.NoBackend, s.Imbalance)
	if n, ok := subsetSize(s.Backends); ok {
		fmt.Fprintf(w, " subset=%d", n)
	}
	if s.Closed {
		io.WriteString(w, " closed=true")
	}
	if len(s.Zones) > 0 {
		zs := make([]string, len(s.Zones))
		for i, z := range s.Zones {
			zs[i] = fmt.Sprintf("%s:%d/%d", textValue(z.Zone), z.Healthy, z.Backends)
		}
		io.WriteString(w, " zones="+strings.Join(zs, ","))
	}
	if st := s.Sticky; st != nil {
		fmt.Fprintf(w, " sticky=%s sticky_hits=%d sticky_misses=%d sticky_rebinds=%d", textValue(st.Mode.String()), st.Hits, st.Misses, st.Rebinds)
	}
	io.WriteString(w, "\n")
}

// textValue returns v as a value of a key=value pair: quoted, as
// strconv.Quote does, if it is empty, holds a space, '=', a quote, a comma
// or a character that is not printable, or is not valid UTF-8 (the quoting
// escapes the invalid bytes, so the line stays valid UTF-8).
func textValue(v string) string {
	if v == "" || !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool {
		return r == ' ' || r == '=' || r == '"' || r == ',' || !strconv.IsPrint(r)
	}) {
		return strconv.Quote(v)
	}
	return v
}

// cell returns v as a table cell that can neither break the table nor
// reach a terminal as a control sequence: white space (tabs and line
// breaks included) turned to spaces, runs of spaces to one and the spaces
// at the ends dropped, since the columns are set apart by spaces; every
// other character that is not printable (unicode.IsPrint), such as ESC or
// NEL (U+0085), every byte that is not valid UTF-8 (0xff is also
// tabwriter.Escape) and U+FFFD, which is what those bytes decode to,
// turned to '?'. An empty cell shows "-".
func cell(v string) string {
	var b strings.Builder
	b.Grow(len(v))
	space := false // the last rune written is a space
	for _, r := range v {
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f':
			if !space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = true
			continue
		case r == utf8.RuneError || !unicode.IsPrint(r):
			r = '?'
		}
		space = false
		b.WriteRune(r)
	}
	out := strings.TrimSuffix(b.String(), " ")
	if out == "" {
		return "-"
	}
	return out
}

// truncate cuts v to n characters, the last of them "...".
func truncate(v string, n int) string {
	if utf8.RuneCountInString(v) <= n {
		return v
	}
	r := []rune(v)
	return string(r[:n-3]) + "..."
}

// percent formats a fraction as a percentage with one decimal, and a
// negative one (no share: see requestShares) as "-".
func percent(f float64) string {
	if f < 0 {
		return "-"
	}
	return strconv.FormatFloat(100*f, 'f', 1, 64) + "%"
}

// requestShares returns each count's part of their total, 0-1, or -1 for
// every one if the total is 0.
func requestShares(counts []uint64) []float64 {
	var total uint64
	for _, n := range counts {
		total += n
	}
	out := make([]float64, len(counts))
	for i, n := range counts {
		out[i] = -1
		if total > 0 {
			out[i] = float64(n) / float64(total)
		}
	}
	return out
}

// weightShares returns each backend's part of the members' effective
// weight, 0-1: -1 for a draining backend, which is no member, for a member
// outside this client's subset, which is never picked, and for every one
// if the others' weights sum to 0.
func weightShares(bs []BackendStats) []float64 {
	var total float64
	for _, b := range bs {
		if balanced(b) {
			total += b.EffectiveWeight
		}
	}
	out := make([]float64, len(bs))
	for i, b := range bs {
		out[i] = -1
		if total > 0 && balanced(b) {
			out[i] = b.EffectiveWeight / total
		}
	}
	return out
}

// subsetSize returns the number of members of bs in this client's subset,
// and whether some member is outside it (see SubsetConfig): available counts
// out of the subset, not of every member.
func subsetSize(bs []BackendStats) (n int, ok bool) {
	for _, b := range bs {
		switch {
		case b.OutsideSubset:
			ok = true
		case b.State != health.Draining:
			n++
		}
	}
	return n, ok
}

// balanced reports whether b is one of the members balanced over: a
// member, not draining, in this client's subset (see SubsetConfig).
func balanced(b BackendStats) bool {
	return b.State != health.Draining && !b.OutsideSubset
}

// errWriter remembers the first error of the writes through it, and makes
// the later ones do nothing.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
