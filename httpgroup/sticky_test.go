package httpgroup_test

import (
	"bytes"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/httpgroup"
	"github.com/go-elb/elb/sticky"
)

// threeBackends starts backends a, b and c and makes a round_robin group
// of them with the given session affinity.
func threeBackends(t *testing.T, sc *sticky.Config, then func(w http.ResponseWriter, r *http.Request)) (*group.Group, []*backend) {
	bs := []*backend{newBackend(t, "a", then), newBackend(t, "b", then), newBackend(t, "c", then)}
	g := newGroup(t, group.Config{Name: "orders", Algorithm: "round_robin", Sticky: sc},
		group.Backend{ID: "a", Addr: bs[0].addr()},
		group.Backend{ID: "b", Addr: bs[1].addr()},
		group.Backend{ID: "c", Addr: bs[2].addr()})
	return g, bs
}

func cookieNamed(cs []*http.Cookie, name string) *http.Cookie {
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestStickyCookie(t *testing.T) {
	key := bytes.Repeat([]byte{7}, sticky.MinKeyLen)
	g, _ := threeBackends(t, &sticky.Config{Mode: sticky.Cookie, Keys: [][]byte{key}, TTL: time.Hour}, nil)
	tr := httpgroup.NewTransport(g, testBase(t))

	resp, home := get(t, tr, "http://orders/", nil)
	c := cookieNamed(resp.Cookies(), sticky.DefaultCookieName)
	require.NotNil(t, c, "the first response sets the cookie")
	assert.Equal(t, "/", c.Path)
	assert.Equal(t, 3600, c.MaxAge)
	assert.True(t, c.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, c.SameSite)
	assert.False(t, c.Secure, "an http request")
	assert.NotContains(t, c.Value, resp.Request.URL.Host, "the cookie does not show the address")

	withCookie := func(v string) func(*http.Request) {
		return func(r *http.Request) {
			r.AddCookie(&http.Cookie{Name: "other", Value: "x"})
			r.AddCookie(&http.Cookie{Name: sticky.DefaultCookieName, Value: v})
		}
	}
	for range 20 {
		resp, id := get(t, tr, "http://orders/", withCookie(c.Value))
		assert.Equal(t, home, id, "the cookie's backend")
		assert.Nil(t, cookieNamed(resp.Cookies(), sticky.DefaultCookieName), "no new cookie while it holds")
	}

	tampered := []byte(c.Value)
	tampered[len(tampered)/2] ^= 1
	resp, _ = get(t, tr, "http://orders/", withCookie(string(tampered)))
	assert.Equal(t, http.StatusOK, resp.StatusCode, "a tampered cookie is served")
	fresh := cookieNamed(resp.Cookies(), sticky.DefaultCookieName)
	require.NotNil(t, fresh, "and re-bound")
	assert.NotEqual(t, c.Value, fresh.Value)
	_, id := get(t, tr, "http://orders/", withCookie(fresh.Value))
	assert.Equal(t, resp.Header.Get("X-Backend"), id, "the new cookie holds")

	st := g.Stats().Sticky
	assert.EqualValues(t, 21, st.Hits)
	assert.EqualValues(t, 2, st.Misses)

	t.Run("Secure over https", func(t *testing.T) {
		tr := &httpgroup.Transport{Group: g, Base: testBase(t), Scheme: "http"}
		resp, _ := get(t, tr, "https://orders/", nil)
		c := cookieNamed(resp.Cookies(), sticky.DefaultCookieName)
		require.NotNil(t, c)
		assert.True(t, c.Secure)
	})
}

func TestStickyAppCookie(t *testing.T) {
	var sessions atomic.Int64
	var g *group.Group
	g, bs := threeBackends(t, &sticky.Config{Mode: sticky.AppCookie, CookieName: "JSESSIONID"},
		func(w http.ResponseWriter, r *http.Request) {
			if _, err := r.Cookie("JSESSIONID"); err != nil { // a new session
				http.SetCookie(w, &http.Cookie{Name: "JSESSIONID", Value: fmt.Sprintf("s%d", sessions.Add(1)), Path: "/"})
			}
		})
	tr := httpgroup.NewTransport(g, testBase(t))
	home := map[string]string{} // session -> backend
	for range 6 {
		resp, id := get(t, tr, "http://orders/login", nil)
		c := cookieNamed(resp.Cookies(), "JSESSIONID")
		require.NotNil(t, c)
		home[c.Value] = id
	}
	assert.Len(t, home, 6)
	for range 5 {
		for s, id := range home {
			_, got := get(t, tr, "http://orders/cart", func(r *http.Request) {
				r.AddCookie(&http.Cookie{Name: "JSESSIONID", Value: s})
			})
			assert.Equal(t, id, got, "session %s", s)
		}
	}
	for _, b := range bs {
		assert.EqualValues(t, 2+10, b.hits.Load(), "two sessions each")
	}
	assert.EqualValues(t, 30, g.Stats().Sticky.Hits)
}

func TestStickyHeader(t *testing.T) {
	g, _ := threeBackends(t, &sticky.Config{Mode: sticky.Header, Header: "x-user-id"}, nil)
	tr := httpgroup.NewTransport(g, testBase(t))
	home := map[string]string{}
	for round := range 4 {
		for u := range 9 {
			user := fmt.Sprint("user-", u)
			_, id := get(t, tr, "http://orders/", func(r *http.Request) { r.Header.Set("X-User-ID", user) })
			if round == 0 {
				home[user] = id
			}
			assert.Equal(t, home[user], id, user)
		}
	}
	assert.Len(t, distinct(home), 3, "users spread over the backends")
	assert.EqualValues(t, 27, g.Stats().Sticky.Hits)
}

func TestStickySourceIP(t *testing.T) {
	g, _ := threeBackends(t, &sticky.Config{Mode: sticky.SourceIP}, nil)
	plain := httpgroup.NewTransport(g, testBase(t))
	byHeader := &httpgroup.Transport{Group: g, Base: testBase(t), ClientIPHeader: "X-Forwarded-For"}
	home := map[string]string{}
	for i := range 30 {
		ip := fmt.Sprintf("10.0.%d.%d", i/7, i)
		ways := []struct {
			tr  http.RoundTripper
			mod func(*http.Request)
		}{
			{plain, func(r *http.Request) { *r = *r.WithContext(httpgroup.WithClientAddr(r.Context(), ip)) }},
			{plain, func(r *http.Request) { r.RemoteAddr = ip + ":5000" }},
			{plain, func(r *http.Request) { // RemoteAddr before the context's
				r.RemoteAddr = ip + ":5001"
				*r = *r.WithContext(httpgroup.WithClientAddr(r.Context(), "192.0.2.1"))
			}},
			{byHeader, func(r *http.Request) { r.Header.Set("X-Forwarded-For", ip+", 192.0.2.7") }},
			{byHeader, func(r *http.Request) { r.RemoteAddr = ip + ":5002" }}, // no header: RemoteAddr
		}
		for w, way := range ways {
			_, id := get(t, way.tr, "http://orders/", way.mod)
			if w == 0 {
				home[ip] = id
			}
			assert.Equal(t, home[ip], id, "%s, way %d", ip, w)
		}
	}
	assert.Len(t, distinct(home), 3, "clients spread over the backends")
}

// A request whose bound backend died is retried on another, and its
// binding moves there.
func TestStickyRetryMovesBinding(t *testing.T) {
	g, bs := threeBackends(t, &sticky.Config{Mode: sticky.Header, Header: "X-User-ID"}, nil)
	rec := &recorder{base: testBase(t)}
	tr := httpgroup.NewTransport(g, rec)
	alice := func(r *http.Request) { r.Header.Set("X-User-ID", "alice") }
	_, home := get(t, tr, "http://orders/", alice)
	var dead *backend
	for _, b := range bs {
		if b.id == home {
			dead = b
		}
	}
	dead.Close()
	_, moved := get(t, tr, "http://orders/", alice)
	require.NotEqual(t, home, moved)
	before := len(rec.dialled())
	for range 5 {
		_, id := get(t, tr, "http://orders/", alice)
		assert.Equal(t, moved, id)
	}
	for _, h := range rec.dialled()[before:] {
		assert.NotEqual(t, dead.addr(), h, "no attempt on the dead backend: the binding moved")
	}
}

func distinct(m map[string]string) map[string]bool {
	out := map[string]bool{}
	for _, v := range m {
		out[v] = true
	}
	return out
}
