package prometheus

import (
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/go-elb/elb/group"
)

// A scrape sends some 16 series per backend; prometheus.MustNewConstMetric
// would allocate and validate the labels of each anew. series is a
// prometheus.Metric that shares its label pairs with the other series of
// its backend (a dto.Metric's labels are immutable by contract), and
// backendSeries holds all of one backend's, in one allocation.

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

// backendSeries is one backend's series and their labels.
type backendSeries struct {
	id, zone    dto.LabelPair
	labels      [3]*dto.LabelPair              // backend, group, zone
	stateLabels [len(states)][4]*dto.LabelPair // backend, group, state, zone
	series      [len(backendMetrics) + 1 + len(states)]series
}

// statePairs are the label pairs state="initial" ... state="draining",
// shared by every scrape.
var statePairs = func() (ps [len(states)]*dto.LabelPair) {
	for i, s := range states {
		ps[i] = labelPair(&nameState, s.String())
	}
	return ps
}()

func labelPair(name *string, value string) *dto.LabelPair {
	return &dto.LabelPair{Name: name, Value: &value}
}

// validUTF8 returns s with invalid UTF-8 replaced, as a label value must
// be valid UTF-8 (a backend ID may be any string).
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// collect sends the series of one backend: of bs[same[0]], summed with
// the others of same where the metric sums. grp is the group's label pair.
func (s *backendSeries) collect(ch chan<- prometheus.Metric, grp *dto.LabelPair, bs []group.BackendStats, same []int, withSticky bool) {
	first := &bs[same[0]]
	id, zone := validUTF8(first.ID), validUTF8(first.Zone)
	s.id = dto.LabelPair{Name: &nameBackend, Value: &id}
	s.zone = dto.LabelPair{Name: &nameZone, Value: &zone}
	s.labels = [3]*dto.LabelPair{&s.id, grp, &s.zone}
	labels := s.labels[:] // len == cap: an append by a wrapper copies
	n := 0
	send := func(desc *prometheus.Desc, labels []*dto.LabelPair, kind dto.MetricType, v float64, count uint64) {
		x := &s.series[n]
		x.desc, x.labels, x.kind, x.v, x.count = desc, labels, kind, v, count
		ch <- x
		n++
	}
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
			send(m.desc, labels, kinds[m.vt], v, 0)
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
		send(descCheckDuration, labels, dto.MetricType_SUMMARY, sum, count)
	}
	for i, st := range states {
		s.stateLabels[i] = [4]*dto.LabelPair{&s.id, grp, statePairs[i], &s.zone}
		send(descState, s.stateLabels[i][:], dto.MetricType_GAUGE, float64(inState[st]), 0)
	}
}

// kinds maps a prometheus.ValueType to its dto.MetricType.
var kinds = map[prometheus.ValueType]dto.MetricType{
	prometheus.CounterValue: dto.MetricType_COUNTER,
	prometheus.GaugeValue:   dto.MetricType_GAUGE,
}
