package group_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb"
	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
	"github.com/go-elb/elb/sticky"
)

var (
	key1 = []byte("0123456789abcdef0123456789abcdef-key-one")
	key2 = []byte("fedcba9876543210fedcba9876543210-key-two")
)

func fourBackends() []group.Backend {
	return []group.Backend{
		{ID: "a", Addr: "10.0.0.1:80"}, {ID: "b", Addr: "10.0.0.2:80"},
		{ID: "c", Addr: "10.0.0.3:80"}, {ID: "d", Addr: "10.0.0.4:80"},
	}
}

// pickID picks with req and ends the request, returning the backend's ID
// and the Pick.
func pickID(t *testing.T, g *group.Group, req group.Request) (string, group.Pick) {
	t.Helper()
	p, err := g.Pick(ctx, req)
	require.NoError(t, err)
	p.Done(nil)
	return p.ID(), p
}

func TestHeaderAffinityKeepsAKeyOnOneBackend(t *testing.T) {
	g, _ := newGroup(t, group.Config{Algorithm: "round_robin", Sticky: &sticky.Config{Mode: sticky.Header, Header: "X-User"}}, fourBackends()...)
	first := map[string]string{}
	for round := range 5 {
		for k := range 40 {
			key := fmt.Sprintf("user-%d", k)
			id, p := pickID(t, g, group.Request{Affinity: key})
			if round == 0 {
				first[key] = id
				continue
			}
			assert.Equal(t, first[key], id, key)
			assert.True(t, p.StickyHit())
		}
	}
	spread := map[string]int{}
	for _, id := range first {
		spread[id]++
	}
	assert.Equal(t, map[string]int{"a": 10, "b": 10, "c": 10, "d": 10}, spread, "new keys are balanced")
	st := g.Stats().Sticky
	require.NotNil(t, st)
	assert.Equal(t, group.StickyStats{Mode: sticky.Header, Hits: 160, Misses: 40, Entries: 40}, *st)

	// A request without the key is balanced and binds nothing.
	_, p := pickID(t, g, group.Request{})
	assert.False(t, p.StickyHit())
	assert.Equal(t, 40, g.Stats().Sticky.Entries)
}

func TestAffinityHealsWhenTheBackendCannotServe(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, g *group.Group, id string)
	}{
		{"weight 0", func(t *testing.T, g *group.Group, id string) {
			require.NoError(t, g.Update(group.Backend{ID: id, Addr: addrOf(g, id), Weight: group.Weight(0)}))
		}},
		{"removed", func(t *testing.T, g *group.Group, id string) { require.NoError(t, g.Remove(id)) }},
		{"ejected", func(t *testing.T, g *group.Group, id string) { failUntilEjected(t, g, id, 5) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, _ := newGroup(t, group.Config{Algorithm: "round_robin", Outlier: &health.OutlierConfig{MaxEjectionPercent: 50},
				Sticky: &sticky.Config{Mode: sticky.AppCookie, CookieName: "JSESSIONID"}}, fourBackends()...)
			was, _ := pickID(t, g, group.Request{Affinity: "session-1"})
			tc.spoil(t, g, was)
			now, p := pickID(t, g, group.Request{Affinity: "session-1"})
			assert.NotEqual(t, was, now)
			assert.False(t, p.StickyHit())
			again, p := pickID(t, g, group.Request{Affinity: "session-1"})
			assert.Equal(t, now, again, "the binding moved")
			assert.True(t, p.StickyHit())
			assert.Equal(t, uint64(1), g.Stats().Sticky.Rebinds)
		})
	}
}

func TestAffinityHealsWhenUnhealthy(t *testing.T) {
	c := newChecked(t, group.Config{Health: &health.Config{HealthyThreshold: 1, UnhealthyThreshold: 1},
		Sticky: &sticky.Config{Mode: sticky.Header, Header: "X-User"}}, fourBackends()...)
	was, _ := pickID(t, c.Group, group.Request{Affinity: "u"})
	c.fleet.set(addrOf(c.Group, was), true)
	c.step(t, 1)
	now, _ := pickID(t, c.Group, group.Request{Affinity: "u"})
	assert.NotEqual(t, was, now)
	// Back to health, the binding stays where it moved.
	c.fleet.set(addrOf(c.Group, was), false)
	c.step(t, 1)
	again, _ := pickID(t, c.Group, group.Request{Affinity: "u"})
	assert.Equal(t, now, again)
}

func addrOf(g *group.Group, id string) string {
	for _, b := range g.Backends() {
		if b.ID == id {
			return b.Addr
		}
	}
	return ""
}

func TestTableTTL(t *testing.T) {
	g, clk := newGroup(t, group.Config{Algorithm: "round_robin", Sticky: &sticky.Config{Mode: sticky.Header, Header: "X-User", TTL: time.Minute}}, fourBackends()...)
	was, _ := pickID(t, g, group.Request{Affinity: "u"})
	for range 3 { // used every 50s: the entry stays
		clk.Advance(50 * time.Second)
		id, p := pickID(t, g, group.Request{Affinity: "u"})
		require.Equal(t, was, id)
		require.True(t, p.StickyHit())
	}
	clk.Advance(2 * time.Minute) // idle past the TTL: swept, and a new request is a miss
	assert.Equal(t, 0, g.Stats().Sticky.Entries)
	_, p := pickID(t, g, group.Request{Affinity: "u"})
	assert.False(t, p.StickyHit())
	assert.Equal(t, uint64(2), g.Stats().Sticky.Misses)
}

func TestTableIsBounded(t *testing.T) {
	g, _ := newGroup(t, group.Config{Sticky: &sticky.Config{Mode: sticky.Header, Header: "X-User", MaxEntries: 1000}}, fourBackends()...)
	const n = 20_000 // 20 times the bound
	for i := range n {
		p, err := g.Pick(ctx, group.Request{Affinity: fmt.Sprintf("flood-%d", i)})
		require.NoError(t, err)
		p.Done(nil)
		if i%1000 == 0 {
			require.LessOrEqual(t, g.Stats().Sticky.Entries, 1000)
		}
	}
	assert.Equal(t, 1000, g.Stats().Sticky.Entries)
	_, p := pickID(t, g, group.Request{Affinity: fmt.Sprintf("flood-%d", n-1)})
	assert.True(t, p.StickyHit(), "the newest bindings are kept")
	_, p = pickID(t, g, group.Request{Affinity: "flood-0"})
	assert.False(t, p.StickyHit(), "the oldest were evicted")
}

func cookieGroup(t *testing.T, keys ...[]byte) (*group.Group, func(time.Duration)) {
	g, clk := newGroup(t, group.Config{Algorithm: "round_robin", Sticky: &sticky.Config{Mode: sticky.Cookie, Keys: keys, TTL: time.Hour}}, fourBackends()...)
	return g, clk.Advance
}

func TestCookieAffinity(t *testing.T) {
	g, advance := cookieGroup(t, key1)
	id, p := pickID(t, g, group.Request{})
	cookie := p.Cookie()
	require.NotEmpty(t, cookie, "a request without a cookie gets one")
	for _, secret := range []string{"10.0.0.", addrOf(g, id)} {
		assert.NotContains(t, cookie, secret)
		raw, err := base64.RawURLEncoding.DecodeString(cookie)
		require.NoError(t, err)
		assert.NotContains(t, string(raw), secret, "the cookie reveals neither ID nor address")
	}
	for range 10 {
		again, p := pickID(t, g, group.Request{Affinity: cookie})
		require.Equal(t, id, again)
		assert.True(t, p.StickyHit())
		assert.Empty(t, p.Cookie(), "a fresh cookie is not re-sent")
	}
	advance(31 * time.Minute) // past half its life: renewed
	again, p := pickID(t, g, group.Request{Affinity: cookie})
	assert.Equal(t, id, again)
	assert.NotEmpty(t, p.Cookie())
	assert.NotEqual(t, cookie, p.Cookie())

	advance(30 * time.Minute) // the old cookie has expired: balanced and bound anew
	_, p = pickID(t, g, group.Request{Affinity: cookie})
	assert.False(t, p.StickyHit())
	assert.NotEmpty(t, p.Cookie())
}

func TestTamperedCookiesAreRebalancedAndRebound(t *testing.T) {
	g, _ := cookieGroup(t, key1)
	_, p := pickID(t, g, group.Request{})
	cookie := p.Cookie()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=. "
	n := 0
	for i := range len(cookie) {
		for _, c := range []byte(alphabet) {
			if c == cookie[i] {
				continue
			}
			forged := cookie[:i] + string(c) + cookie[i+1:]
			_, p := pickID(t, g, group.Request{Affinity: forged})
			require.False(t, p.StickyHit(), "byte %d changed to %q was trusted", i, c)
			require.NotEmpty(t, p.Cookie(), "a forged cookie is replaced")
			n++
		}
	}
	st := g.Stats().Sticky
	assert.Equal(t, uint64(n+1), st.Misses)
	assert.Zero(t, st.Hits)

	// Signed with a key the group does not know.
	other, _ := cookieGroup(t, key2)
	_, p = pickID(t, other, group.Request{})
	_, p = pickID(t, g, group.Request{Affinity: p.Cookie()})
	assert.False(t, p.StickyHit())
	for _, junk := range []string{"", "x", strings.Repeat("A", 55), strings.Repeat("\xff", 4096)} {
		_, p = pickID(t, g, group.Request{Affinity: junk})
		assert.False(t, p.StickyHit())
	}
}

func TestCookieForARemovedBackendIsRebound(t *testing.T) {
	g, _ := cookieGroup(t, key1)
	id, p := pickID(t, g, group.Request{})
	cookie := p.Cookie()
	require.NoError(t, g.Remove(id))
	now, p := pickID(t, g, group.Request{Affinity: cookie})
	assert.NotEqual(t, id, now)
	assert.NotEmpty(t, p.Cookie())
	assert.Equal(t, uint64(1), g.Stats().Sticky.Rebinds)
	again, _ := pickID(t, g, group.Request{Affinity: p.Cookie()})
	assert.Equal(t, now, again)
}

func TestCookieKeyRotation(t *testing.T) {
	old, _ := cookieGroup(t, key1)
	id, p := pickID(t, old, group.Request{})
	cookie := p.Cookie()
	// The same backends, keys rotated: key2 signs, key1 still verifies.
	rotated, _ := cookieGroup(t, key2, key1)
	again, p := pickID(t, rotated, group.Request{Affinity: cookie})
	assert.Equal(t, id, again)
	assert.True(t, p.StickyHit())
	renewed := p.Cookie()
	require.NotEmpty(t, renewed, "a cookie signed with an old key is renewed with the new one")
	// Once key1 is retired, the renewed cookie still holds.
	retired, _ := cookieGroup(t, key2)
	again, p = pickID(t, retired, group.Request{Affinity: renewed})
	assert.Equal(t, id, again)
	assert.True(t, p.StickyHit())
	_, p = pickID(t, retired, group.Request{Affinity: cookie})
	assert.False(t, p.StickyHit(), "the old cookie is not")
}

func TestSourceIPAffinity(t *testing.T) {
	g, _ := newGroup(t, group.Config{Sticky: &sticky.Config{Mode: sticky.SourceIP}}, fourBackends()...)
	home := map[string]string{}
	for i := range 200 {
		ip := fmt.Sprintf("192.0.2.%d:%d", i, 1000+i)
		home[ip], _ = pickID(t, g, group.Request{Source: ip})
		other, p := pickID(t, g, group.Request{Source: fmt.Sprintf("192.0.2.%d:9", i)})
		assert.Equal(t, home[ip], other, "the port does not matter")
		assert.True(t, p.StickyHit())
	}
	require.NoError(t, g.Remove("a"))
	moved := 0
	for ip, was := range home {
		now, _ := pickID(t, g, group.Request{Source: ip})
		if was == "a" {
			assert.NotEqual(t, "a", now)
			continue
		}
		if now != was {
			moved++
		}
	}
	assert.LessOrEqual(t, moved, 4, "clients of the other backends stay put")
}

func TestImbalanceRisesWithHeavyKeys(t *testing.T) {
	g, _ := newGroup(t, group.Config{Algorithm: "round_robin", Sticky: &sticky.Config{Mode: sticky.Header, Header: "X-User"}}, fourBackends()...)
	for i := range 4000 {
		pickID(t, g, group.Request{Affinity: fmt.Sprintf("u%d", i%400)})
	}
	even := g.Stats().Imbalance
	assert.InDelta(t, 1.0, even, 0.05, "400 equal keys spread evenly")
	for range 4000 { // one key carries as much again
		pickID(t, g, group.Request{Affinity: "heavy"})
	}
	skewed := g.Stats().Imbalance
	assert.Greater(t, skewed, 2.0, "one backend has more than twice its share")
	t.Logf("imbalance: %.2f even, %.2f with one heavy key", even, skewed)
}

func TestStickyConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg   sticky.Config
		field string
	}{
		{sticky.Config{}, "Sticky.Mode"},
		{sticky.Config{Mode: sticky.Header}, "Sticky.Header"},
		{sticky.Config{Mode: sticky.AppCookie}, "Sticky.CookieName"},
		{sticky.Config{Mode: sticky.Cookie}, "Sticky.Keys"},
		{sticky.Config{Mode: sticky.Cookie, Keys: [][]byte{[]byte("short")}}, "Sticky.Keys[0]"},
		{sticky.Config{Mode: sticky.SourceIP, TTL: time.Second}, "Sticky.TTL"},
		{sticky.Config{Mode: sticky.SourceIP, TTL: 25 * time.Hour}, "Sticky.TTL"},
		{sticky.Config{Mode: sticky.Header, Header: "X", MaxEntries: -1}, "Sticky.MaxEntries"},
	} {
		_, err := group.New(group.Config{Sticky: &tc.cfg})
		require.Error(t, err, tc.field)
		assert.ErrorIs(t, err, group.ErrInvalidConfig)
		assert.ErrorIs(t, err, elb.ErrInvalidConfig)
		var ce *elb.ConfigError
		if assert.ErrorAs(t, err, &ce) {
			assert.Equal(t, tc.field, ce.Field)
		}
		assert.NotContains(t, err.Error(), "0123456789abcdef", "no key bytes in errors")
	}
}

func TestStickyHitsDoNotAllocate(t *testing.T) {
	for _, mode := range []sticky.Config{{Mode: sticky.Header, Header: "X-User"}, {Mode: sticky.SourceIP}, {Mode: sticky.Cookie, Keys: [][]byte{key1}}} {
		g, _ := newGroup(t, group.Config{Sticky: &mode}, fourBackends()...)
		_, p := pickID(t, g, group.Request{Affinity: "user-7", Source: "192.0.2.1"})
		req := group.Request{Affinity: "user-7", Source: "192.0.2.1"}
		if mode.Mode == sticky.Cookie {
			req.Affinity = p.Cookie()
		}
		allocs := testing.AllocsPerRun(1000, func() {
			p, err := g.Pick(ctx, req)
			if err != nil || !p.StickyHit() {
				panic(fmt.Sprint("not a hit: ", err))
			}
			p.Done(nil)
		})
		assert.Zero(t, allocs, mode.Mode.String())
	}
}

func TestStickyHitsSurviveRemovalAndFlappingBackendsAreLeft(t *testing.T) {
	g, _ := newGroup(t, group.Config{Algorithm: "round_robin", Sticky: &sticky.Config{Mode: sticky.Header, Header: "X-User"}}, fourBackends()...)
	home, _ := pickID(t, g, group.Request{Affinity: "u"})
	for range 5 {
		pickID(t, g, group.Request{Affinity: "u"})
	}
	b := group.Backend{ID: home, Addr: addrOf(g, home)}
	for _, w := range []int{0, 1, 0} { // out, in, out
		b.Weight = group.Weight(w)
		require.NoError(t, g.Update(b))
	}
	now, p := pickID(t, g, group.Request{Affinity: "u"})
	assert.NotEqual(t, home, now, "a backend out of the pick set is never followed")
	assert.False(t, p.StickyHit())
	require.Equal(t, uint64(5), g.Stats().Sticky.Hits)
	require.NoError(t, g.Remove(home))
	assert.Equal(t, uint64(5), g.Stats().Sticky.Hits, "hits of a removed backend still count")
}
