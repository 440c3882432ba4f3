package prometheus

import (
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
)

// A scrape reads each group's Stats once and turns it into a view: the
// values its series show, under the labels they show them with. Collect
// sends a view's series to the registry; Handler writes them as text.

// view is one group's Stats as its series show it.
type view struct {
	g     *group.Group
	name  string // the group label: Stats.Name, valid UTF-8
	st    group.Stats
	zones []group.ZoneStats // st.Zones, their names valid UTF-8 and unique
	units []unit            // the backends' series, in the order Stats lists them
}

// unit is what one backend's series show: its values, or those of the
// backends of its group that share its labels (a draining backend and the
// member that took its ID, or IDs that differ only in invalid UTF-8),
// summed where the metric sums.
type unit struct {
	id, zone string // the backend and zone labels, valid UTF-8
	values
}

// values are the values of a unit's series.
type values struct {
	vals      [len(backendMetrics)]float64
	shown     uint16 // bit k: the series of backendMetrics[k] is shown
	checks    uint64 // probes counted: the probe-duration summary's count, shown if > 0
	checkTime float64
	inState   [len(states)]float64 // backends in each of states
}

// eachView calls f with the view of each group in r, sorted by name, each
// read once, and returns us: the views' units are appended to it, and
// stay valid after f returns. Of groups whose labels are the same once invalid UTF-8 is
// replaced, the first is viewed, the others left out: the scrape would
// otherwise fail as a whole.
func eachView(r *group.Registry, us []unit, f func(*view)) []unit {
	if r == nil {
		return us
	}
	gs := r.Groups()
	var names map[string]bool // the groups' labels, once a name is not valid UTF-8
	for i, g := range gs {
		v := view{g: g, st: g.Stats()}
		if names == nil && !utf8.ValidString(v.st.Name) {
			names = make(map[string]bool, len(gs))
			for _, h := range gs[:i] {
				names[h.Name()] = true // valid, as the label is: else names were made
			}
		}
		v.name = validUTF8(v.st.Name)
		if names != nil {
			if names[v.name] {
				continue
			}
			names[v.name] = true
		}
		v.zones = mergeZones(v.st.Zones)
		start := len(us)
		us = units(slices.Grow(us, len(v.st.Backends)), &v.st)
		v.units = us[start:len(us):len(us)]
		f(&v)
	}
	return us
}

// backendKey is what a backend's series are labelled with in its group.
type backendKey struct{ id, zone string }

// units appends to us the units of st's backends, in the order st lists
// them: one per label set.
func units(us []unit, st *group.Stats) []unit {
	bs := st.Backends
	withSticky := sticky(st)
	// Backends are listed members first, then draining ones; a draining
	// backend may share its ID (and zone) with a member that replaced it,
	// and IDs that differ only in invalid UTF-8 share their label once it
	// is replaced; a series must be labelled uniquely: those share one.
	var at map[backendKey]int // key -> index into us; nil while no two can share
	for i := range bs {
		b := &bs[i]
		if b.State == health.Draining || !utf8.ValidString(b.ID) || !utf8.ValidString(b.Zone) {
			at = make(map[backendKey]int)
			break
		}
	}
	for i := range bs {
		b := &bs[i]
		if at == nil {
			us = append(us, unit{id: b.ID, zone: b.Zone})
			addTo(&us[len(us)-1], b, true, withSticky)
			continue
		}
		k := backendKey{validUTF8(b.ID), validUTF8(b.Zone)}
		j, ok := at[k]
		if !ok {
			j = len(us)
			at[k] = j
			us = append(us, unit{id: k.id, zone: k.zone})
		}
		addTo(&us[j], b, !ok, withSticky)
	}
	return us
}

// addTo adds b's values to u: first says b is the first backend of u,
// whose values the metrics that do not sum show.
func addTo(u *unit, b *group.BackendStats, first, withSticky bool) {
	for k := range backendMetrics {
		m := &backendMetrics[k]
		if m.sticky && !withSticky || m.when != nil && !m.when(b) {
			continue
		}
		if first || m.sum {
			u.vals[k] += m.val(b)
		}
		u.shown |= 1 << k
	}
	u.checks += b.ChecksPassed + b.ChecksFailed
	u.checkTime += b.CheckTime.Seconds()
	for i, s := range states {
		if b.State == s {
			u.inState[i]++
		}
	}
}

// validUTF8 returns s with invalid UTF-8 replaced, as a label value must
// be valid UTF-8 (a backend ID may be any string).
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

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
