package prometheus

import (
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
)

// A scrape sends some 16 series per backend; prometheus.MustNewConstMetric
// would allocate and validate the labels of each anew. series is a
// prometheus.Metric whose label pairs it shares with the other series of
// its backend, zone or group (a dto.Metric's labels are immutable by
// contract), and a scrape of a group takes its series and labels from a
// few slabs, allocated once.

// Label names, for the label pairs' name pointers.
var (
	nameGroup   = labelGroup
	nameBackend = labelBackend
	nameZone    = labelZone
	nameState   = labelState
)

// series is one sample: a counter, a gauge or a summary without quantiles.
type series struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair // sorted by name; shared, never changed
	kind   dto.MetricType
	v      float64 // the value; a summary's sum
	count  uint64  // a summary's count
}

// Desc implements prometheus.Metric.
func (s *series) Desc() *prometheus.Desc { return s.desc }

// Write implements prometheus.Metric.
func (s *series) Write(m *dto.Metric) error {
	m.Label = s.labels
	switch s.kind {
	case dto.MetricType_COUNTER:
		m.Counter = &dto.Counter{Value: &s.v}
	case dto.MetricType_GAUGE:
		m.Gauge = &dto.Gauge{Value: &s.v}
	default:
		m.Summary = &dto.Summary{SampleCount: &s.count, SampleSum: &s.v}
	}
	return nil
}

// sender sends series taken from its slab.
type sender struct {
	ch   chan<- prometheus.Metric
	slab []series
}

func (s *sender) send(desc *prometheus.Desc, labels []*dto.LabelPair, kind dto.MetricType, v float64, count uint64) {
	if len(s.slab) == 0 {
		s.slab = make([]series, 64)
	}
	x := &s.slab[0]
	s.slab = s.slab[1:]
	x.desc, x.labels, x.kind, x.v, x.count = desc, labels, kind, v, count
	s.ch <- x
}

// pair is a label pair with its value, one allocation for both.
type pair struct {
	value string
	lp    dto.LabelPair
}

func (p *pair) set(name *string, value string) *dto.LabelPair {
	p.value = validUTF8(value)
	p.lp = dto.LabelPair{Name: name, Value: &p.value}
	return &p.lp
}

// backendSet is the label sets of one backend's series.
type backendSet struct {
	id, zone pair
	labels   [3]*dto.LabelPair              // backend, group, zone
	states   [len(states)][4]*dto.LabelPair // backend, group, state, zone
}

// zoneLabels is the label set of one zone's series.
type zoneLabels struct {
	zone   pair
	labels [2]*dto.LabelPair // group, zone
}

// statePairs are the label pairs state="initial" ... state="draining",
// shared by every scrape.
var statePairs = func() (ps [len(states)]*dto.LabelPair) {
	for i, s := range states {
		ps[i] = new(pair).set(&nameState, s.String())
	}
	return ps
}()

// validUTF8 returns s with invalid UTF-8 replaced, as a label value must
// be valid UTF-8 (a backend ID may be any string).
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// backendKey is what a backend's series are labelled with in its group.
type backendKey struct{ id, zone string }

// mergeZones returns zs with the zones whose names differ only in invalid
// UTF-8 counted as one, under the name it is labelled with; zs itself if
// every name is valid.
func mergeZones(zs []group.ZoneStats) []group.ZoneStats {
	valid := true
	for _, z := range zs {
		valid = valid && utf8.ValidString(z.Zone)
	}
	if valid {
		return zs
	}
	var out []group.ZoneStats
	at := make(map[string]int, len(zs))
	for _, z := range zs {
		z.Zone = validUTF8(z.Zone)
		if i, ok := at[z.Zone]; ok {
			out[i].Backends += z.Backends
			out[i].Healthy += z.Healthy
			continue
		}
		at[z.Zone] = len(out)
		out = append(out, z)
	}
	return out
}

// collectGroup sends the metrics of one group's Stats.
func collectGroup(ch chan<- prometheus.Metric, st group.Stats) {
	perBackend := len(backendMetrics) + 1 + len(states)
	s := sender{ch: ch, slab: make([]series, len(groupMetrics)+1+2*len(st.Zones)+perBackend*len(st.Backends))}
	var grp pair
	grpLabels := []*dto.LabelPair{grp.set(&nameGroup, st.Name)}
	for _, m := range groupMetrics {
		if m.when == nil || m.when(&st) {
			s.send(m.desc, grpLabels, m.kind, m.val(&st), 0)
		}
	}
	zones := make([]zoneLabels, len(st.Zones)+1) // the last: the route zone
	for i, z := range mergeZones(st.Zones) {
		zl := &zones[i]
		zl.labels = [2]*dto.LabelPair{&grp.lp, zl.zone.set(&nameZone, z.Zone)}
		s.send(descZoneBackends, zl.labels[:], gauge, float64(z.Backends), 0)
		s.send(descZoneHealthy, zl.labels[:], gauge, float64(z.Healthy), 0)
	}
	route := &zones[len(st.Zones)]
	route.labels = [2]*dto.LabelPair{&grp.lp, route.zone.set(&nameZone, st.RouteZone)}
	s.send(descRouteZone, route.labels[:], gauge, 1, 0)

	// Backends are listed members first, then draining ones; a draining
	// backend may share its ID (and zone) with a member that replaced it,
	// and IDs that differ only in invalid UTF-8 share their label once it
	// is replaced; a series must be labelled uniquely: those share one.
	var dup map[backendKey][]int // key -> indexes into st.Backends; nil while no two can share
	var seen []bool
	for i := range st.Backends {
		b := &st.Backends[i]
		if b.State == health.Draining || !utf8.ValidString(b.ID) || !utf8.ValidString(b.Zone) {
			dup, seen = make(map[backendKey][]int), make([]bool, len(st.Backends))
			break
		}
	}
	key := func(b *group.BackendStats) backendKey { return backendKey{validUTF8(b.ID), validUTF8(b.Zone)} }
	for i := range st.Backends {
		if dup != nil {
			k := key(&st.Backends[i])
			dup[k] = append(dup[k], i)
		}
	}
	withSticky := sticky(&st)
	labels := make([]backendSet, len(st.Backends))
	for i := range st.Backends {
		one := [1]int{i}
		same := one[:]
		if dup != nil {
			if seen[i] {
				continue
			}
			same = dup[key(&st.Backends[i])]
			for _, j := range same {
				seen[j] = true
			}
		}
		s.backend(&labels[i], &grp.lp, st.Backends, same, withSticky)
	}
}

// backend sends the series of one backend, labelled with ls: of
// bs[same[0]], summed with the others of same where the metric sums.
func (s *sender) backend(ls *backendSet, grp *dto.LabelPair, bs []group.BackendStats, same []int, withSticky bool) {
	first := &bs[same[0]]
	ls.labels = [3]*dto.LabelPair{ls.id.set(&nameBackend, first.ID), grp, ls.zone.set(&nameZone, first.Zone)}
	labels := ls.labels[:] // len == cap: a wrapper that appends copies
	for k := range backendMetrics {
		m := &backendMetrics[k]
		if m.sticky && !withSticky {
			continue
		}
		shown, v := false, 0.0
		for i, j := range same {
			b := &bs[j]
			if m.when != nil && !m.when(b) {
				continue
			}
			if i == 0 || m.sum {
				v += m.val(b)
			}
			shown = true
		}
		if shown {
			s.send(m.desc, labels, m.kind, v, 0)
		}
	}
	var count uint64
	var sum float64
	var inState [healthStates]int
	for _, j := range same {
		b := &bs[j]
		count += b.ChecksPassed + b.ChecksFailed
		sum += b.CheckTime.Seconds()
		if b.State < healthStates {
			inState[b.State]++
		}
	}
	if count > 0 {
		s.send(descCheckDuration, labels, dto.MetricType_SUMMARY, sum, count)
	}
	for i, st := range states {
		ls.states[i] = [4]*dto.LabelPair{&ls.id.lp, grp, statePairs[i], &ls.zone.lp}
		s.send(descState, ls.states[i][:], gauge, float64(inState[st]), 0)
	}
}
