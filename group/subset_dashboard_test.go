package group_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
)

// TestSubsetSharesCountTheSubsetAlone: the weight shares of the text and
// the dashboard, and the dashboard's imbalance, are over the members of
// the subset, the ones picked; a member outside has no weight share.
func TestSubsetSharesCountTheSubsetAlone(t *testing.T) {
	for _, n := range []int{1, 2, 3, 10, 100} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			reg := &group.Registry{}
			var bs []group.Backend
			for i := range n {
				bs = append(bs, group.Backend{ID: fmt.Sprintf("b%d", i), Addr: fmt.Sprintf("10.0.0.%d:%d", i%250, 80+i/250)})
			}
			h := reg.Handler()
			g, clk := newGroup(t, group.Config{Name: "web", Registry: reg, Subset: &group.SubsetConfig{Size: 2, ClientID: "c"}}, bs...)
			in := subsetOf(g)
			require.Len(t, in, min(n, 2))
			for range 100 {
				p, err := g.Pick(ctx, group.Request{})
				require.NoError(t, err)
				p.Done(nil)
			}
			var tb strings.Builder
			require.NoError(t, g.Stats().WriteText(&tb))
			header := strings.SplitN(tb.String(), "\n", 2)[0]
			if n > 2 {
				assert.Contains(t, header, " available=2/"+fmt.Sprint(n)+" requests=100 ")
				assert.Contains(t, header, " subset=2", "available counts out of the subset")
			} else {
				assert.NotContains(t, header, "subset=", "every member in the subset")
			}
			want := fmt.Sprintf("%.1f%%", 100/float64(len(in)))
			for _, line := range strings.Split(tb.String(), "\n")[1:] {
				f := strings.Fields(line)
				if len(f) < 10 || f[0] == "BACKEND" {
					continue
				}
				if containsID(in, f[0]) {
					assert.Equal(t, want, f[9], "weight share of %s, in the subset: %s", f[0], line)
					assert.Equal(t, "healthy", f[3], "state of %s, in the subset: %s", f[0], line)
				} else {
					assert.Equal(t, "-", f[9], "weight share of %s, outside: %s", f[0], line)
					assert.Equal(t, "outside-subset", f[3], "state of %s, outside: %s", f[0], line)
				}
			}

			serve(t, h, http.MethodGet, "/", "Accept", chromeAccept) // the first sample
			clk.Advance(2 * time.Second)
			for range 100 {
				p, err := g.Pick(ctx, group.Request{})
				require.NoError(t, err)
				p.Done(nil)
			}
			_, body := serve(t, h, http.MethodGet, "/", "Accept", chromeAccept)
			doc := page(t, body)
			// Round robin over the subset: even, whatever lies outside.
			assert.Equal(t, "1.00", text(one(t, doc, ".imbalance")))
			if n > 2 {
				assert.Equal(t, "2", text(one(t, doc, ".subset")))
			} else {
				assert.Empty(t, find(doc, ".subset"))
			}
			rows := backendRows(doc)
			require.Len(t, rows, n)
			for id, row := range rows {
				if containsID(in, id) {
					assert.Equal(t, want, text(one(t, row, ".weight-share")), id)
				} else {
					assert.Equal(t, "-", text(one(t, row, ".weight-share")), id)
					assert.Contains(t, text(row), "outside this client's subset", id)
				}
			}
		})
	}
}

func containsID(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// A late readiness report on a member outside the subset (the adapters
// connect to the subset alone) changes nothing: the member stays waiting,
// and when it joins the subset it waits for its new connection.
func TestSubsetIgnoresReadinessOutside(t *testing.T) {
	g, _ := newGroup(t, group.AwaitReady(group.Config{Subset: &group.SubsetConfig{Size: 1, ClientID: "c"}}))
	rec := record(g)
	require.NoError(t, g.Add(group.Backend{ID: "a", Addr: "10.0.0.1:80"}, group.Backend{ID: "b", Addr: "10.0.0.2:80"}))
	in := subsetOf(g)
	require.Len(t, in, 1)
	inside, outside := in[0], map[string]string{"a": "b", "b": "a"}[in[0]]
	require.NoError(t, group.SetReady(g, inside, true, ""))
	require.NoError(t, group.SetReady(g, outside, true, "a late report"))
	bs := backendStats(t, g, outside)
	assert.True(t, bs.OutsideSubset)
	assert.Equal(t, health.Initial, bs.State, "outside, it is not reached")
	assert.Equal(t, map[string]int{inside: 4}, counts(t, g, 4))

	// The member inside leaves: the other joins, and waits to be reached.
	require.NoError(t, g.Remove(inside))
	bs = backendStats(t, g, outside)
	assert.False(t, bs.OutsideSubset)
	assert.Equal(t, health.Initial, bs.State)
	assert.Equal(t, "not connected yet", bs.Unreachable)
	assert.Zero(t, g.Available())
	require.NoError(t, group.SetReady(g, outside, false, "connection CONNECTING"))
	assert.Equal(t, health.Initial, backendStats(t, g, outside).State, "not unhealthy: it was never reached in the subset")
	require.NoError(t, group.SetReady(g, outside, true, "connected"))
	assert.Equal(t, 1, g.Available())

	evs := rec.await(t, func(evs []group.Event) bool {
		return len(typed(evs, group.EventStateChanged)) >= 2
	})
	var changes []string
	for _, e := range evs {
		if e.Type != group.EventStateChanged {
			continue
		}
		changes = append(changes, fmt.Sprintf("%s %v->%v", e.Backend.ID, e.From, e.State))
	}
	assert.Equal(t, []string{inside + " initial->healthy", outside + " initial->healthy"}, changes)
}
