package prometheus

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
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

// sendView sends the series of v, its units in the order given.
func (s *sender) sendView(v *view, order []int32) {
	var grp pair
	grpLabels := []*dto.LabelPair{grp.set(&nameGroup, v.name)}
	for _, m := range groupMetrics {
		if m.when == nil || m.when(&v.st) {
			s.send(m.desc, grpLabels, m.kind, m.val(&v.st), 0)
		}
	}
	zones := make([]zoneLabels, len(v.zones)+1) // the last: the route zone
	for i, z := range v.zones {
		zl := &zones[i]
		zl.labels = [2]*dto.LabelPair{&grp.lp, zl.zone.set(&nameZone, z.Zone)}
		s.send(famZoneBackends.desc, zl.labels[:], gauge, float64(z.Backends), 0)
		s.send(famZoneHealthy.desc, zl.labels[:], gauge, float64(z.Healthy), 0)
	}
	route := &zones[len(v.zones)]
	route.labels = [2]*dto.LabelPair{&grp.lp, route.zone.set(&nameZone, v.st.RouteZone)}
	s.send(famRouteZone.desc, route.labels[:], gauge, 1, 0)

	labels := make([]backendSet, len(v.units))
	for i, j := range order {
		s.backend(&labels[i], &grp.lp, &v.units[j])
	}
}

// backend sends the series of u, labelled with ls.
func (s *sender) backend(ls *backendSet, grp *dto.LabelPair, u *unit) {
	ls.labels = [3]*dto.LabelPair{ls.id.set(&nameBackend, u.id), grp, ls.zone.set(&nameZone, u.zone)}
	labels := ls.labels[:] // len == cap: a wrapper that appends copies
	for k := range backendMetrics {
		if u.shown&(1<<k) != 0 {
			s.send(backendMetrics[k].desc, labels, backendMetrics[k].kind, u.vals[k], 0)
		}
	}
	if u.checks > 0 {
		s.send(famCheckDuration.desc, labels, summary, u.checkTime, u.checks)
	}
	for i := range states {
		ls.states[i] = [4]*dto.LabelPair{&ls.id.lp, grp, statePairs[i], &ls.zone.lp}
		s.send(famState.desc, ls.states[i][:], gauge, u.inState[i], 0)
	}
}
