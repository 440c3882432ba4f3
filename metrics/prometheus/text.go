package prometheus

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/go-elb/elb/group"
)

// Handler returns an http.Handler that serves the metrics of every group
// in c's registry and those also gathers (nil: none; or a
// prometheus.Gatherer such as prometheus.DefaultGatherer), in the
// Prometheus text format, version 0.0.4: the body promhttp.HandlerFor
// serves for prometheus.Gatherers{also, r}, r a registry holding c, byte
// for byte, written directly rather than through the registry's checks
// and sorting of each of the 16 series a backend has. A scrape of 1,000
// backends costs some 25 times less CPU, Stats included (BenchmarkScrape;
// figures in the README). It answers in that format whatever the Accept
// header prefers (Prometheus's default scrape protocols all accept it),
// names escaped as the header asks; gzipped, at gzip.BestSpeed, when
// Accept-Encoding accepts gzip.
//
// also must not hold c, nor any metric named as one of c's: a scrape that
// finds such a name answers 500 Internal Server Error, naming it, as
// promhttp answers a registry whose Gather fails; so does a scrape whose
// also.Gather fails, as promhttp's default HandlerOpts do.
func (c *Collector) Handler(also prometheus.Gatherer) http.Handler {
	return &handler{c: c, also: also}
}

type handler struct {
	c    *Collector
	also prometheus.Gatherer
}

// textFormat is the one format Handler serves.
var textFormat = expfmt.NewFormat(expfmt.TypeTextPlain)

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var also []*dto.MetricFamily
	if h.also != nil {
		mfs, err := h.also.Gather()
		if err == nil {
			also, err = others(mfs)
		}
		if err != nil {
			http.Error(w, "An error has occurred while serving metrics:\n\n"+err.Error(), http.StatusInternalServerError)
			return
		}
	}
	// The text format, with the escaping of names the request asks for (which
	// the names of c's metrics never need), as promhttp negotiates it.
	format := expfmt.NegotiateAccept(r.Header, textFormat)
	w.Header().Set("Content-Type", string(format))
	var out io.Writer = w
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		w.Header().Set("Content-Encoding", "gzip")
		gz := gzips.Get().(*gzip.Writer)
		gz.Reset(w)
		defer func() {
			_ = gz.Close()
			gz.Reset(nil)
			gzips.Put(gz)
		}()
		out = gz
	}
	_ = h.c.writeText(out, format, also) // an error is the client's, gone: nothing to answer it
}

// gzips are gzip writers at gzip.BestSpeed: a third of the CPU time of
// the default level (what promhttp uses) for a body a quarter larger
// (BenchmarkScrape: 1,000 backends, 1.4 MB of text, gzipped to 80 kB).
var gzips = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // a valid level: no error
	return w
}}

// acceptsGzip says whether an Accept-Encoding header accepts gzip.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") { // codings are case-insensitive (RFC 9110)
			continue
		}
		q, ok := strings.CutPrefix(strings.TrimSpace(params), "q=")
		return !ok || strings.Trim(q, "0.") != ""
	}
	return false
}

// others returns the non-empty families of mfs, sorted by name, or an
// error if one has the name of a family of the Collector's.
func others(mfs []*dto.MetricFamily) ([]*dto.MetricFamily, error) {
	out := make([]*dto.MetricFamily, 0, len(mfs))
	for _, mf := range mfs {
		if _, ok := famNames[mf.GetName()]; ok {
			return nil, fmt.Errorf("gathered metric family %s is also the Collector's: a registry given to Handler must not hold the Collector", mf.GetName())
		}
		if len(mf.GetMetric()) > 0 {
			out = append(out, mf)
		}
	}
	slices.SortStableFunc(out, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return out, nil
}

// textFam is a family in the text format: its name and its # HELP and
// # TYPE lines, and what writes its samples.
type textFam struct {
	name, header string
	write        func(*textScrape)
}

// textFams are every family of the Collector's, sorted by name, as
// promhttp writes them.
var textFams = func() []textFam {
	var fs []textFam
	add := func(f *fam, write func(*textScrape)) {
		kind := map[dto.MetricType]string{counter: "counter", gauge: "gauge", summary: "summary"}[f.kind]
		header := "# HELP " + f.name + " " + strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(f.help) + "\n# TYPE " + f.name + " " + kind + "\n"
		fs = append(fs, textFam{name: f.name, header: header, write: write})
	}
	for k := range backendMetrics {
		add(&backendMetrics[k].fam, func(s *textScrape) { s.backendMetric(k) })
	}
	for k := range groupMetrics {
		add(&groupMetrics[k].fam, func(s *textScrape) { s.groupMetric(&groupMetrics[k]) })
	}
	add(&famState, (*textScrape).states)
	add(&famCheckDuration, (*textScrape).checkDurations)
	add(&famZoneBackends, func(s *textScrape) { s.zones(famZoneBackends.name, func(z *group.ZoneStats) int { return z.Backends }) })
	add(&famZoneHealthy, func(s *textScrape) { s.zones(famZoneHealthy.name, func(z *group.ZoneStats) int { return z.Healthy }) })
	add(&famRouteZone, (*textScrape).routeZones)
	slices.SortFunc(fs, func(a, b textFam) int { return strings.Compare(a.name, b.name) })
	return fs
}()

// famNames are the names of textFams.
var famNames = func() map[string]struct{} {
	m := make(map[string]struct{}, len(textFams))
	for _, f := range textFams {
		m[f.name] = struct{}{}
	}
	return m
}()

// textScrape is one scrape being written.
type textScrape struct {
	out     io.Writer
	err     error
	buf     []byte // written to out every flushAt bytes
	pending string // the header of the family being written, until its first sample

	views []*view    // sorted by name
	group [][]byte   // of each view: `group="..."`
	units []textUnit // every view's, sorted by backend, group, zone
	arena []byte     // the units' labels
	all   []unit     // the views' units
}

// scrapes are textScrapes to reuse, for a scrape not to allocate what the
// one before did (at 10,000 backends, megabytes).
var scrapes = sync.Pool{New: func() any { return &textScrape{buf: make([]byte, 0, flushAt+4<<10)} }}

// textUnit is a unit of a view, with its labels; it holds no pointer, for
// the garbage collector to skip.
type textUnit struct {
	values
	view int // index in textScrape.views
	// [start, mid) and [mid, end) of the arena are the unit's labels but
	// the state label, which sorts between them: `backend="...",group="..."`
	// and `zone="..."`.
	start, mid, end int32
}

const flushAt = 32 << 10

// orders remembers, for each group, the order of its units by backend and
// zone, which is the order of their series in a scrape: their order in
// Stats changes only with the group's membership, so a scrape checks the
// order of the one before in O(n), and sorts only after a change.
type orders struct {
	mu sync.Mutex
	m  map[*group.Group][]int32
}

// orderScrape is the orders of one scrape.
type orderScrape struct {
	o          *orders
	last, next map[*group.Group][]int32
}

// start starts a scrape: its done remembers the orders it used, and
// forgets those of groups it did not see.
func (o *orders) start() *orderScrape {
	o.mu.Lock()
	defer o.mu.Unlock()
	return &orderScrape{o: o, last: o.m, next: make(map[*group.Group][]int32, len(o.m))}
}

func (s *orderScrape) done() {
	s.o.mu.Lock()
	s.o.m = s.next
	s.o.mu.Unlock()
}

// of returns the indexes of v's units sorted by backend and zone.
func (s *orderScrape) of(v *view) []int32 {
	p := s.last[v.g]
	if !inOrder(v.units, p) {
		p = make([]int32, len(v.units))
		for j := range p {
			p[j] = int32(j)
		}
		slices.SortFunc(p, func(a, b int32) int { return byBackend(&v.units[a], &v.units[b]) })
	}
	s.next[v.g] = p
	return p
}

// byBackend orders the units of a view by backend, then zone: their
// labels, unique in a view.
func byBackend(a, b *unit) int {
	return cmp.Or(strings.Compare(a.id, b.id), strings.Compare(a.zone, b.zone))
}

// inOrder says whether p, a permutation of the indexes of units or of
// another length, lists units in strictly increasing order.
func inOrder(us []unit, p []int32) bool {
	if len(p) != len(us) {
		return false
	}
	for i := 1; i < len(p); i++ {
		if byBackend(&us[p[i-1]], &us[p[i]]) >= 0 {
			return false
		}
	}
	return true
}

// writeText writes every group's series, and the families of also (sorted
// by name, none named as one of textFams), to out in the text format
// (format, which says how also's names are escaped).
func (c *Collector) writeText(out io.Writer, format expfmt.Format, also []*dto.MetricFamily) error {
	s := scrapes.Get().(*textScrape)
	defer func() {
		clear(s.views) // nothing kept of the groups' Stats
		clear(s.all)
		clear(s.group)
		*s = textScrape{buf: s.buf[:0], views: s.views[:0], group: s.group[:0], units: s.units[:0], arena: s.arena[:0], all: s.all[:0]}
		scrapes.Put(s)
	}()
	s.out = out
	s.all = eachView(c.reg, s.all, func(v *view) {
		vv := *v
		s.views = append(s.views, &vv)
	})
	// Series are sorted by their label values, in the order of the label
	// names, as a registry sorts them: views by group, units by backend,
	// group, zone.
	slices.SortStableFunc(s.views, func(a, b *view) int { return strings.Compare(a.name, b.name) })
	os := c.order.start()
	orders := make([][]int32, len(s.views))
	for i, v := range s.views {
		orders[i] = os.of(v)
	}
	os.done()
	s.merge(orders)

	enc := expfmt.NewEncoder(s, format)
	for i := range textFams {
		f := &textFams[i]
		for len(also) > 0 && also[0].GetName() < f.name {
			s.flush()
			if s.err == nil {
				s.err = enc.Encode(also[0])
			}
			also = also[1:]
		}
		s.pending = f.header
		f.write(s)
	}
	for _, mf := range also {
		s.flush()
		if s.err == nil {
			s.err = enc.Encode(mf)
		}
	}
	s.flush()
	return s.err
}

// merge fills s.units with the units of every view, in the orders given
// (each sorted by backend and zone), merged into one sorted by backend,
// group and zone, and their labels.
func (s *textScrape) merge(orders [][]int32) {
	n, size := 0, 0
	for _, v := range s.views {
		s.group = append(s.group, appendLabel(nil, labelGroup, v.name))
		i := len(s.group) - 1
		n += len(v.units)
		for j := range v.units {
			size += len(v.units[j].id) + len(v.units[j].zone) + len(s.group[i]) + len(`backend="",zone=""`)
		}
	}
	s.units = slices.Grow(s.units, n)
	s.arena = slices.Grow(s.arena, size)
	add := func(vi int, u *unit) {
		t := textUnit{values: u.values, view: vi, start: int32(len(s.arena))}
		s.arena = appendLabel(s.arena, labelBackend, u.id)
		s.arena = append(s.arena, ',')
		s.arena = append(s.arena, s.group[vi]...)
		t.mid = int32(len(s.arena))
		s.arena = appendLabel(s.arena, labelZone, u.zone)
		t.end = int32(len(s.arena))
		s.units = append(s.units, t)
	}
	// A k-way merge of the views' orders: heads is a min-heap of the view
	// indexes whose units are not all taken yet, by their next unit's
	// backend, then group (views are sorted by name).
	next := make([]int, len(s.views)) // of each view: the position in its order of the unit to take next
	unitOf := func(vi int) *unit { return &s.views[vi].units[orders[vi][next[vi]]] }
	less := func(a, b int) bool { // two views: their zones need no comparing
		if c := strings.Compare(unitOf(a).id, unitOf(b).id); c != 0 {
			return c < 0
		}
		return a < b
	}
	heads := make([]int, 0, len(s.views))
	for vi := range s.views {
		if len(orders[vi]) > 0 {
			heads = append(heads, vi)
		}
	}
	down := func(i int) {
		for {
			l := 2*i + 1
			if l >= len(heads) {
				return
			}
			if r := l + 1; r < len(heads) && less(heads[r], heads[l]) {
				l = r
			}
			if !less(heads[l], heads[i]) {
				return
			}
			heads[i], heads[l] = heads[l], heads[i]
			i = l
		}
	}
	for i := len(heads)/2 - 1; i >= 0; i-- {
		down(i)
	}
	for len(heads) > 0 {
		vi := heads[0]
		add(vi, unitOf(vi))
		if next[vi]++; next[vi] == len(orders[vi]) {
			heads[0] = heads[len(heads)-1]
			heads = heads[:len(heads)-1]
		}
		down(0)
	}
}

// Write implements io.Writer for the encoder of other families: it writes
// to out, s.buf flushed.
func (s *textScrape) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.out.Write(p)
	s.err = err
	return n, err
}

func (s *textScrape) flush() {
	if s.err == nil && len(s.buf) > 0 {
		_, s.err = s.out.Write(s.buf)
	}
	s.buf = s.buf[:0]
}

// open starts a sample of the metric name: the family's header first, if
// it is the first, then the name and the opening brace; the caller
// appends the labels to s.buf and ends the sample with value.
func (s *textScrape) open(name string) {
	if s.pending != "" {
		s.buf = append(s.buf, s.pending...)
		s.pending = ""
	}
	s.buf = append(s.buf, name...)
	s.buf = append(s.buf, '{')
}

// value ends a sample with its value.
func (s *textScrape) value(v float64) {
	s.buf = append(s.buf, '}', ' ')
	s.buf = appendFloat(s.buf, v)
	s.buf = append(s.buf, '\n')
	if len(s.buf) >= flushAt {
		s.flush()
	}
}

func (s *textScrape) groupMetric(m *metric[group.Stats]) {
	for i, v := range s.views {
		if m.when == nil || m.when(&v.st) {
			s.open(m.name)
			s.buf = append(s.buf, s.group[i]...)
			s.value(m.val(&v.st))
		}
	}
}

func (s *textScrape) zones(name string, val func(*group.ZoneStats) int) {
	for i, v := range s.views {
		zs := v.zones
		if !slices.IsSortedFunc(zs, byZone) { // names made valid no longer sort
			zs = slices.SortedFunc(slices.Values(zs), byZone)
		}
		for j := range zs {
			s.zoneSample(name, i, zs[j].Zone, float64(val(&zs[j])))
		}
	}
}

func byZone(a, b group.ZoneStats) int { return strings.Compare(a.Zone, b.Zone) }

func (s *textScrape) routeZones() {
	for i, v := range s.views {
		s.zoneSample(famRouteZone.name, i, validUTF8(v.st.RouteZone), 1)
	}
}

// zoneSample writes a sample labelled with view i's group and zone.
func (s *textScrape) zoneSample(name string, i int, zone string, v float64) {
	s.open(name)
	s.buf = append(s.buf, s.group[i]...)
	s.buf = append(s.buf, ',')
	s.buf = appendLabel(s.buf, labelZone, zone)
	s.value(v)
}

func (s *textScrape) backendMetric(k int) {
	name := backendMetrics[k].name
	for i := range s.units {
		u := &s.units[i]
		if u.shown&(1<<k) != 0 {
			s.open(name)
			s.backendLabels(u)
			s.value(u.vals[k])
		}
	}
}

// pre returns u's backend and group labels.
func (s *textScrape) pre(u *textUnit) []byte { return s.arena[u.start:u.mid] }

func (s *textScrape) backendLabels(u *textUnit) {
	s.buf = append(s.buf, s.arena[u.start:u.mid]...)
	s.buf = append(s.buf, ',')
	s.buf = append(s.buf, s.arena[u.mid:u.end]...)
}

var (
	checkDurationSum   = famCheckDuration.name + "_sum"
	checkDurationCount = famCheckDuration.name + "_count"
)

func (s *textScrape) checkDurations() {
	for i := range s.units {
		u := &s.units[i]
		if u.checks > 0 {
			s.open(checkDurationSum)
			s.backendLabels(u)
			s.value(u.checkTime)
			s.open(checkDurationCount)
			s.backendLabels(u)
			s.value(float64(u.checks))
		}
	}
}

// stateLabel is a state of states, with the label a sample of it writes
// between a unit's pre and post labels.
type stateLabel struct {
	i     int // index in states
	label []byte
}

// stateOrder lists states sorted by name, as their samples are.
var stateOrder = func() []stateLabel {
	out := make([]stateLabel, len(states))
	for i, st := range states {
		out[i] = stateLabel{i: i, label: append(appendLabel([]byte{','}, labelState, st.String()), ',')}
	}
	slices.SortFunc(out, func(a, b stateLabel) int { return strings.Compare(states[a.i].String(), states[b.i].String()) })
	return out
}()

// states writes elb_backend_state: labelled backend, group, state, zone,
// so the units of one backend and group (in several zones) take turns in
// each state.
func (s *textScrape) states() {
	for i := 0; i < len(s.units); {
		j := i + 1
		for j < len(s.units) && s.units[j].view == s.units[i].view && bytes.Equal(s.pre(&s.units[j]), s.pre(&s.units[i])) {
			j++
		}
		for _, st := range stateOrder {
			for k := i; k < j; k++ {
				u := &s.units[k]
				s.open(famState.name)
				s.buf = append(s.buf, s.arena[u.start:u.mid]...)
				s.buf = append(s.buf, st.label...)
				s.buf = append(s.buf, s.arena[u.mid:u.end]...)
				s.value(u.inState[st.i])
			}
		}
		i = j
	}
}

// appendLabel appends name="value", value escaped as the text format
// escapes it.
func appendLabel(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, '=', '"')
	if !strings.ContainsAny(value, "\\\"\n") {
		b = append(b, value...)
	} else {
		for i := range len(value) {
			switch c := value[i]; c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			default:
				b = append(b, c)
			}
		}
	}
	return append(b, '"')
}

// appendFloat appends f as the text format writes it: shortest 'g', with
// 1, 0 and -1 spelled out, NaN and ±Inf as +Inf, -Inf and NaN.
func appendFloat(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, 1):
		return append(b, "+Inf"...)
	case math.IsInf(f, -1):
		return append(b, "-Inf"...)
	case f == math.Trunc(f) && math.Abs(f) < 1e6: // 'g' writes these as integers; -0 as 0, as the format does
		return strconv.AppendInt(b, int64(f), 10)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}
