package group_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
)

func TestRegistryFind(t *testing.T) {
	reg := &group.Registry{}
	web, _ := newGroup(t, group.Config{Name: "web", Registry: reg},
		group.Backend{ID: "web-1", Addr: "10.0.0.5:8080"},
		group.Backend{ID: "web-2", Addr: "[2001:db8::1]:8080"},
	)
	api, _ := newGroup(t, group.Config{Name: "api", Registry: reg},
		group.Backend{ID: "api-1", Addr: "10.0.0.5:9090"},
		group.Backend{ID: "api-2", Addr: "db.internal:5432"},
	)
	where := func(key string) []string {
		var out []string
		for _, l := range reg.Find(key) {
			out = append(out, l.Group+"/"+l.Backend.ID)
		}
		return out
	}
	assert.Equal(t, []string{"api/api-1", "web/web-1"}, where("10.0.0.5"), "by IP: every group")
	assert.Equal(t, []string{"web/web-1"}, where("10.0.0.5:8080"), "by address")
	assert.Equal(t, []string{"api/api-2"}, where("api-2"), "by ID")
	assert.Equal(t, []string{"web/web-2"}, where("2001:0db8:0:0:0:0:0:1"), "IPv6 in another spelling")
	assert.Equal(t, []string{"web/web-2"}, where("[2001:db8::1]"))
	assert.Equal(t, []string{"api/api-2"}, where("db.internal"), "by host name")
	assert.Empty(t, where("10.0.0.6"))

	// A draining backend is still found, and says so.
	var p group.Pick
	for p.ID() != "web-2" {
		p.Done(nil)
		var err error
		p, err = web.Pick(ctx, group.Request{})
		require.NoError(t, err)
	}
	require.NoError(t, web.Remove(p.ID()))
	locs := reg.Find(p.ID())
	require.Len(t, locs, 1)
	assert.Equal(t, health.Draining, locs[0].State)
	p.Done(nil)
	assert.Empty(t, reg.Find(p.ID()))

	g, ok := reg.Group("api")
	assert.True(t, ok)
	assert.Same(t, api, g)
	assert.Len(t, reg.Groups(), 2)

	_, err := group.New(group.Config{Name: "api", Registry: reg})
	require.ErrorIs(t, err, group.ErrDuplicateGroup)
	assert.Contains(t, err.Error(), `"api"`)

	require.NoError(t, api.Close(ctx))
	_, ok = reg.Group("api")
	assert.False(t, ok, "a closed group leaves the registry")
	assert.Equal(t, []string{"web/web-1"}, where("10.0.0.5"))
}

// TestRegistryFindIPSpellings: an IP address, alone or in host:port, finds
// its backend in any spelling, both ways round, IPv4-mapped forms included.
func TestRegistryFindIPSpellings(t *testing.T) {
	reg := &group.Registry{}
	newGroup(t, group.Config{Name: "long", Registry: reg},
		group.Backend{ID: "long-v6", Addr: "[2001:0db8:0:0:0:0:0:1]:80"},
		group.Backend{ID: "long-v4", Addr: "10.0.0.7:80"},
		group.Backend{ID: "long-zone", Addr: "[fe80::1%eth0]:80"},
	)
	newGroup(t, group.Config{Name: "short", Registry: reg},
		group.Backend{ID: "short-v6", Addr: "[2001:db8::2]:443"},
		group.Backend{ID: "short-mapped", Addr: "[::ffff:10.0.0.8]:443"},
		group.Backend{ID: "short-name", Addr: "db.internal:80"},
	)
	ids := func(key string) []string {
		var out []string
		for _, l := range reg.Find(key) {
			out = append(out, l.Backend.ID)
		}
		return out
	}
	for key, want := range map[string][]string{
		// a member in a long spelling, found by a short one
		"[2001:db8::1]:80":           {"long-v6"},
		"[2001:DB8::1]:80":           {"long-v6"},
		"[2001:db8:0::0:1]:80":       {"long-v6"},
		"[2001:0db8:0:0:0:0:0:1]:80": {"long-v6"},
		"2001:db8::1":                {"long-v6"},
		"[::ffff:10.0.0.7]:80":       {"long-v4"},
		"[::ffff:a00:7]:80":          {"long-v4"},
		"::ffff:10.0.0.7":            {"long-v4"},
		"[fe80:0::1%eth0]:80":        {"long-zone"},
		// a member in a short spelling, found by a long one
		"[2001:0db8:0:0:0:0:0:2]:443": {"short-v6"},
		"2001:0db8:0000::0002":        {"short-v6"},
		"10.0.0.8:443":                {"short-mapped"},
		"10.0.0.8":                    {"short-mapped"},
		"[::ffff:10.0.0.8]:443":       {"short-mapped"},
		"db.internal:80":              {"short-name"},
		// not a match: another port, zone or address
		"[2001:db8::1]:81":     nil,
		"[2001:db8::2]:80":     nil,
		"10.0.0.7:443":         nil,
		"[fe80::1%eth1]:80":    nil,
		"[fe80::1]:80":         nil,
		"[2001:db8::3]:443":    nil,
		"[::ffff:10.0.0.9]:80": nil,
	} {
		assert.Equal(t, want, ids(key), "Find(%q)", key)
	}
}
