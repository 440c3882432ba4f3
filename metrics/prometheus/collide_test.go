package prometheus_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/go-elb/elb/group"
	elbprom "github.com/go-elb/elb/metrics/prometheus"
)

// Backend IDs, zones and group names that differ only in their invalid
// UTF-8 share a label value once it is replaced: never sent twice, which
// would fail the whole scrape. Backends and zones are summed into one
// series (as a draining backend's with the member that took its ID); of
// two such groups, the first by name is collected.
func TestInvalidUTF8LabelsThatCollide(t *testing.T) {
	reg := &group.Registry{}
	g := newGroup(t, reg, group.Config{Name: "g\xff"},
		group.Backend{ID: "b\xfe", Addr: "10.0.0.1:80", Zone: "z\xfd"},
		group.Backend{ID: "b\xff", Addr: "10.0.0.2:80", Zone: "z\xfd"},
		group.Backend{ID: "c", Addr: "10.0.0.3:80", Zone: "z\xfc"},
	)
	h1 := newGroup(t, reg, group.Config{Name: "h\xfe"}, group.Backend{ID: "d", Addr: "10.0.0.4:80"})
	h2 := newGroup(t, reg, group.Config{Name: "h\xff"}, group.Backend{ID: "d", Addr: "10.0.0.4:80"})
	drive(t, g, 30, nil)
	drive(t, h1, 5, nil)
	drive(t, h2, 7, nil)
	got := scrape(t, pedantic(t, reg))
	assert.Equal(t, 20.0, got["elb_requests_total{backend=b\uFFFD,group=g\uFFFD,zone=z\uFFFD}"])
	assert.Equal(t, 10.0, got["elb_requests_total{backend=c,group=g\uFFFD,zone=z\uFFFD}"])
	assert.Equal(t, 3.0, got["elb_zone_backends{group=g\uFFFD,zone=z\uFFFD}"])
	assert.Equal(t, 30.0, got["elb_group_requests_total{group=g\uFFFD}"])
	assert.Equal(t, 5.0, got["elb_group_requests_total{group=h\uFFFD}"], "h\\xfe's, the first")
	assert.Equal(t, 5.0, got["elb_requests_total{backend=d,group=h\uFFFD}"])
}

// Whatever the names, IDs and zones, a scrape succeeds: unique series of
// valid UTF-8 (a pedantic registry checks both), and Handler serves what
// promhttp serves for it.
func FuzzLabels(f *testing.F) {
	f.Add("g", "g\xff", "a", "b", "z", "z")
	f.Add("g\xfe", "g\xff", "b\xfe", "b\xff", "z\xfd", "z\xfc")
	f.Add("g\uFFFD", "g\xff", "b\uFFFD", "b\xff", "", "\xff")
	f.Add("", "x", `<script>`, "a\"b\nc", "\x00", "é")
	f.Fuzz(func(t *testing.T, g1, g2, id1, id2, z1, z2 string) {
		if g1 == g2 || id1 == id2 || g1 == "" || g2 == "" || id1 == "" || id2 == "" {
			return // one group, one ID: refused by group, not what this tests
		}
		reg := &group.Registry{}
		for _, name := range []string{g1, g2} {
			g, err := group.New(group.Config{Name: name, Registry: reg, FailFast: true})
			if err != nil {
				return // a name group refuses
			}
			t.Cleanup(func() { _ = g.Close(ctx) })
			if err := g.Add(group.Backend{ID: id1, Addr: "10.0.0.1:80", Zone: z1}, group.Backend{ID: id2, Addr: "10.0.0.2:80", Zone: z2}); err != nil {
				return // IDs or zones group refuses
			}
			drive(t, g, 2, nil)
		}
		pr := pedantic(t, reg)
		scrape(t, pr)
		_, got := get(t, elbprom.NewCollector(reg).Handler(nil), "")
		if want := text(t, pr); got != want {
			t.Fatalf("Handler serves\n%s\npromhttp\n%s", got, want)
		}
	})
}
