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
				} else {
					assert.Equal(t, "-", f[9], "weight share of %s, outside: %s", f[0], line)
				}
			}

			_, body := serve(t, h, http.MethodGet, "/", "Accept", chromeAccept)
			clk.Advance(2 * time.Second)
			for range 100 {
				p, err := g.Pick(ctx, group.Request{})
				require.NoError(t, err)
				p.Done(nil)
			}
			_, body = serve(t, h, http.MethodGet, "/", "Accept", chromeAccept)
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
