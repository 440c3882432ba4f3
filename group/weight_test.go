package group_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/discovery"
	"github.com/go-elb/elb/group"
)

// weightForms are the forms a Backend.Weight takes: left out, no new
// requests, and three shares, with what each resolves to.
var weightForms = []struct {
	name string
	w    *int
	want int
}{
	{"nil", nil, group.DefaultWeight},
	{"0", group.Weight(0), 0},
	{"1", group.Weight(1), 1},
	{"50", group.Weight(50), 50},
	{"100", group.Weight(100), 100},
}

// TestWeightRoundTrips follows each form of a weight from a Go literal
// through json.Marshal, a discovery file, the group, Backends, Stats, the
// handler's JSON, an event and a log record, and back into a group: every
// representation says the same.
func TestWeightRoundTrips(t *testing.T) {
	for _, f := range weightForms {
		t.Run(f.name, func(t *testing.T) {
			in := group.Backend{ID: "b", Addr: "10.0.0.1:80", Weight: f.w, Zone: "az1"}

			// Go -> JSON: the number, or no "weight" at all for the default.
			data, err := json.Marshal(in)
			require.NoError(t, err)
			if f.w == nil {
				assert.NotContains(t, string(data), "weight")
			} else {
				assert.Contains(t, string(data), fmt.Sprintf(`"weight":%d`, f.want))
			}
			var back group.Backend
			require.NoError(t, json.Unmarshal(data, &back))
			assert.Equal(t, in, back, "json.Unmarshal undoes json.Marshal")

			// JSON -> discovery file -> Update: the same Backend.
			path := filepath.Join(t.TempDir(), "backends.json")
			require.NoError(t, os.WriteFile(path, []byte(`{"backends": [`+string(data)+`]}`), 0o600))
			src, err := discovery.NewFile(discovery.File{Path: path})
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			u, err := src.Next(ctx)
			require.NoError(t, err)
			require.Len(t, u.Backends, 1)
			assert.Equal(t, in, u.Backends[0], "the file source reads what json.Marshal wrote")

			// -> group, with a logger and a subscriber.
			var logged bytes.Buffer
			reg := new(group.Registry)
			g, err := group.New(group.Config{Name: "w", Registry: reg, Logger: slog.New(slog.NewJSONHandler(&logged, nil))})
			require.NoError(t, err)
			evs := make(chan group.Event, 16)
			g.Subscribe(func(e group.Event) { evs <- e })
			require.NoError(t, g.Set(u.Backends))

			// The group resolves the weight, in a pointer of its own.
			resolved := in
			resolved.Weight = group.Weight(f.want)
			bs := g.Backends()
			require.Len(t, bs, 1)
			assert.Equal(t, resolved, bs[0])
			if f.w != nil {
				assert.NotSame(t, f.w, bs[0].Weight, "the group keeps a copy, not the caller's pointer")
				assert.NotSame(t, u.Backends[0].Weight, bs[0].Weight)
			}
			st := g.Stats()
			require.Len(t, st.Backends, 1)
			assert.Equal(t, resolved, st.Backends[0].Backend)
			assert.Equal(t, float64(f.want), st.Backends[0].EffectiveWeight)

			// Backends, Stats and the handler as JSON: the resolved number.
			data, err = json.Marshal(bs)
			require.NoError(t, err)
			var fromBackends []group.Backend
			require.NoError(t, json.Unmarshal(data, &fromBackends))
			assert.Equal(t, bs, fromBackends)
			data, err = json.Marshal(st)
			require.NoError(t, err)
			var fromStats group.Stats
			require.NoError(t, json.Unmarshal(data, &fromStats))
			assert.Equal(t, resolved, fromStats.Backends[0].Backend)
			rec := httptest.NewRecorder()
			reg.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/?format=json", nil))
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			assert.Contains(t, rec.Body.String(), fmt.Sprintf(`"weight": %d,`, f.want))
			var fromHandler struct {
				Groups []struct{ Backends []group.Backend }
			}
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &fromHandler))
			require.Len(t, fromHandler.Groups, 1)
			assert.Equal(t, bs, fromHandler.Groups[0].Backends)

			// The handler's text shows the number in the WEIGHT column.
			var text bytes.Buffer
			require.NoError(t, st.WriteText(&text))
			lines := strings.Split(text.String(), "\n")
			require.Len(t, lines, 4, text.String()) // header, column names, b, ""
			assert.Equal(t, []string{"b", "10.0.0.1:80", "az1", "healthy", fmt.Sprint(f.want)}, strings.Fields(lines[2])[:5])

			// The event: resolved, with a pointer of its own.
			select {
			case e := <-evs:
				assert.Equal(t, group.EventAdded, e.Type)
				assert.Equal(t, resolved, e.Backend)
				assert.NotSame(t, bs[0].Weight, e.Backend.Weight)
			case <-ctx.Done():
				t.Fatal("no EventAdded")
			}

			// Back: what Backends, Stats and the handler gave makes the same
			// member of another group, and Update with it changes nothing.
			for _, b := range []group.Backend{fromBackends[0], fromStats.Backends[0].Backend, fromHandler.Groups[0].Backends[0]} {
				g2, err := group.New(group.Config{})
				require.NoError(t, err)
				require.NoError(t, g2.Add(b))
				assert.Equal(t, bs, g2.Backends())
				require.NoError(t, g2.Close(ctx))
			}
			require.NoError(t, g.Update(bs[0]))
			assert.Equal(t, bs, g.Backends())

			// Pick.Backend: the same, in a pointer of its own.
			if f.want > 0 {
				p, err := g.Pick(ctx, group.Request{})
				require.NoError(t, err)
				pb := p.Backend()
				assert.Equal(t, resolved, pb)
				*pb.Weight = 66
				p.Done(nil)
			}

			// A caller changing what it gave or got changes nothing.
			if f.w != nil {
				*u.Backends[0].Weight = 99 // what Set was given
			}
			*bs[0].Weight = 77 // what Backends returned
			assert.Equal(t, resolved, g.Backends()[0])

			// The log record: the resolved number.
			require.NoError(t, g.Close(ctx))
			assert.Contains(t, logged.String(), fmt.Sprintf(`"msg":"backend added","group":"w","event":"added","backend":"b","addr":"10.0.0.1:80","zone":"az1","weight":%d}`, f.want))
		})
	}
}

// TestWeightFormsInAddUpdateAndSet checks that Add, Update and Set read
// each form as the package documentation says: nil is DefaultWeight in
// each of them (Update does not keep the weight a member had), 0 keeps a
// member without new requests, and anything outside 0-100 is refused,
// naming the value.
func TestWeightFormsInAddUpdateAndSet(t *testing.T) {
	weightOf := func(g *group.Group, id string) int {
		for _, b := range g.Backends() {
			if b.ID == id {
				return *b.Weight
			}
		}
		t.Fatalf("no member %q", id)
		return 0
	}
	a := group.Backend{ID: "a", Addr: "10.0.0.1:80"}
	withWeight := func(b group.Backend, w *int) group.Backend { b.Weight = w; return b }
	for _, from := range weightForms {
		for _, to := range weightForms {
			t.Run(from.name+"->"+to.name, func(t *testing.T) {
				g, _ := newGroup(t, group.Config{}, withWeight(a, from.w), group.Backend{ID: "other", Addr: "10.0.0.2:80"})
				require.Equal(t, from.want, weightOf(g, "a"), "Add")
				require.Equal(t, 1+min(from.want, 1), g.Available())

				require.NoError(t, g.Update(withWeight(a, to.w)))
				assert.Equal(t, to.want, weightOf(g, "a"), "Update")
				assert.Equal(t, 1+min(to.want, 1), g.Available())

				require.NoError(t, g.Set([]group.Backend{withWeight(a, from.w)}))
				assert.Equal(t, from.want, weightOf(g, "a"), "Set")
				assert.Equal(t, min(from.want, 1), g.Available())
				if from.want == 0 {
					_, err := g.Pick(context.Background(), group.Request{})
					assert.ErrorIs(t, err, group.ErrNoAvailableBackend, "a member at weight 0 takes no new request")
				}
			})
		}
	}

	t.Run("invalid", func(t *testing.T) {
		g, _ := newGroup(t, group.Config{}, a)
		for _, w := range []int{-1, 101, 1000, -100} {
			for name, err := range map[string]error{
				"Add":    g.Add(group.Backend{ID: "x", Addr: "10.0.0.9:80", Weight: group.Weight(w)}),
				"Update": g.Update(withWeight(a, group.Weight(w))),
				"Set":    g.Set([]group.Backend{withWeight(a, group.Weight(w))}),
			} {
				require.ErrorIs(t, err, group.ErrInvalidWeight, "%s %d", name, w)
				assert.Contains(t, err.Error(), fmt.Sprintf("%d is outside 0-100", w), name)
			}
		}
		assert.Equal(t, []group.Backend{withWeight(a, group.Weight(1))}, g.Backends(), "nothing changed")
	})

	t.Run("same weight, another form", func(t *testing.T) {
		// nil and Weight(1) are the same weight: no change, no event.
		g, _ := newGroup(t, group.Config{}, a)
		evs := make(chan group.Event, 4)
		g.Subscribe(func(e group.Event) { evs <- e })
		require.NoError(t, g.Update(withWeight(a, group.Weight(1))))
		require.NoError(t, g.Set([]group.Backend{a}))
		require.NoError(t, g.Update(withWeight(a, group.Weight(2))))
		select {
		case e := <-evs:
			assert.Equal(t, group.EventUpdated, e.Type)
			assert.Equal(t, 2, *e.Backend.Weight, "the first event is the change to 2")
		case <-time.After(10 * time.Second):
			t.Fatal("no event")
		}
	})
}
