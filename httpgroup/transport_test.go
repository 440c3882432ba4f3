package httpgroup_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
	"github.com/go-elb/elb/httpgroup"
)

func TestDistributionFollowsWeights(t *testing.T) {
	a, b, c := newBackend(t, "a", nil), newBackend(t, "b", nil), newBackend(t, "c", nil)
	g := newGroup(t, group.Config{Name: "orders", Algorithm: "weighted_round_robin"},
		group.Backend{ID: "a", Addr: a.addr(), Weight: group.Weight(5)},
		group.Backend{ID: "b", Addr: b.addr(), Weight: group.Weight(3)},
		group.Backend{ID: "c", Addr: c.addr(), Weight: group.Weight(2)})
	tr := httpgroup.NewTransport(g, testBase(t))
	for range 1000 {
		resp, _ := get(t, tr, "http://orders/", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	assert.Equal(t, map[string]int64{"a": 500, "b": 300, "c": 200}, counts(a, b, c))
	st := g.Stats()
	assert.EqualValues(t, 1000, st.Requests)
	assert.Zero(t, st.Failures)
	assert.Zero(t, st.InFlight)
}

func TestHostAndDialledAddresses(t *testing.T) {
	a, b := newBackend(t, "a", nil), newBackend(t, "b", nil)
	g := newGroup(t, group.Config{Name: "orders"},
		group.Backend{ID: "a", Addr: a.addr()}, group.Backend{ID: "b", Addr: b.addr()})
	rec := &recorder{base: testBase(t)}
	members := map[string]bool{a.addr(): true, b.addr(): true}

	t.Run("logical host by default", func(t *testing.T) {
		tr := httpgroup.NewTransport(g, rec)
		for range 4 {
			resp, _ := get(t, tr, "http://orders/x?y=1", nil) // "orders" resolves nowhere
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Contains(t, members, resp.Request.URL.Host, "resp.Request names the backend")
			assert.Equal(t, "orders", resp.Request.Host)
		}
		_, _ = get(t, tr, "http://orders/", func(r *http.Request) { r.Host = "api.example.com" })
		hosts := append(a.seenHosts(), b.seenHosts()...)
		assert.ElementsMatch(t, []string{"orders", "orders", "orders", "orders", "api.example.com"}, hosts)
	})
	t.Run("RewriteHost", func(t *testing.T) {
		tr := &httpgroup.Transport{Group: g, Base: rec, RewriteHost: true}
		before := len(a.seenHosts())
		for range 4 {
			get(t, tr, "http://orders/", func(r *http.Request) { r.Host = "api.example.com" })
		}
		for _, h := range a.seenHosts()[before:] {
			assert.Equal(t, a.addr(), h)
		}
	})
	t.Run("the request's URL host is never dialled", func(t *testing.T) {
		tr := httpgroup.NewTransport(g, rec)
		for _, u := range []string{"http://127.0.0.1:1/", "http://example.com:80/", "https://orders/"} {
			req, err := http.NewRequest(http.MethodGet, u, nil)
			require.NoError(t, err)
			tr.Scheme = "http"
			resp, err := tr.RoundTrip(req)
			require.NoError(t, err, u)
			resp.Body.Close()
			assert.Equal(t, u, req.URL.String(), "the request is not modified")
		}
		dialled := rec.dialled()
		require.NotEmpty(t, dialled)
		for _, h := range dialled {
			assert.Contains(t, members, h)
		}
	})
}

// A backend dies in the middle of 10,000 concurrent GETs: every request
// still succeeds, retried on the others, and outlier detection ejects it.
func TestBackendKilledUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 requests")
	}
	bs := []*backend{newBackend(t, "a", nil), newBackend(t, "b", nil), newBackend(t, "c", nil)}
	g := newGroup(t, group.Config{Name: "orders", Outlier: &health.OutlierConfig{}},
		group.Backend{ID: "a", Addr: bs[0].addr()},
		group.Backend{ID: "b", Addr: bs[1].addr()},
		group.Backend{ID: "c", Addr: bs[2].addr()})
	base := testBase(t)
	tr := httpgroup.NewTransport(g, base)

	total, workers, killAt := int64(10000), 50, int64(2000)
	if raceEnabled { // ten times slower
		total, killAt = 1000, 200
	}
	failed := killUnderLoad(t, tr, bs[1], total, workers, killAt, nil)
	assert.Zero(t, failed, "failed requests")
	c := counts(bs...)
	// A GET that b had begun to serve when it died was served again.
	served := c["a"] + c["b"] + c["c"]
	assert.True(t, served >= total && served <= total+int64(workers), "served %d: %v", served, c)
	assert.Less(t, c["b"], killAt, "b served nothing after it died")

	st := g.Stats()
	assert.Zero(t, st.InFlight)
	for _, b := range st.Backends {
		if b.ID == "b" {
			assert.Equal(t, health.Ejected, b.State, "the dead backend is ejected")
			assert.NotZero(t, b.Failures)
		} else {
			assert.Equal(t, health.Healthy, b.State, b.ID)
			assert.Zero(t, b.Failures, b.ID)
		}
	}
	t.Logf("served %v; group: %d picks, %d failures", c, st.Requests, st.Failures)
}

func TestNoBackend(t *testing.T) {
	g := newGroup(t, group.Config{Name: "empty"})
	tr := httpgroup.NewTransport(g, testBase(t))
	body := &closeCounter{Reader: strings.NewReader("x")}
	req, _ := http.NewRequest(http.MethodPost, "http://orders/", body)
	_, err := tr.RoundTrip(req)
	require.Error(t, err)
	assert.ErrorIs(t, err, group.ErrNoBackends)
	var ae *httpgroup.AttemptsError
	require.ErrorAs(t, err, &ae)
	assert.Len(t, ae.Attempts, 1)
	assert.EqualValues(t, 1, body.closed.Load(), "the request's body is closed")
}

// A Transport without a Group (the zero Transport) or with a field out of
// range fails its first RoundTrip before any pick, with an error that names
// the field and its value and wraps elb.ErrInvalidConfig; the request's
// body is closed.
func TestConfigErrors(t *testing.T) {
	g := newGroup(t, group.Config{}, group.Backend{Addr: "127.0.0.1:1"})
	for _, c := range []struct {
		tr   *httpgroup.Transport
		want []string
	}{
		{&httpgroup.Transport{}, []string{"Transport.Group", "nil", "NewTransport"}},
		{httpgroup.NewTransport(nil, nil), []string{"Transport.Group", "nil"}},
		{&httpgroup.Transport{Group: g, Scheme: "ftp"}, []string{"Transport.Scheme", `"ftp"`}},
		{&httpgroup.Transport{Group: g, MaxAttempts: -1}, []string{"Transport.MaxAttempts", "-1", "1-10"}},
		{&httpgroup.Transport{Group: g, MaxAttempts: httpgroup.MaxMaxAttempts + 1}, []string{"Transport.MaxAttempts", "11"}},
	} {
		for range 2 { // the same error every time, not only the first
			body := &closeCounter{Reader: strings.NewReader("x")}
			req, _ := http.NewRequest(http.MethodPost, "http://orders/", body)
			resp, err := c.tr.RoundTrip(req)
			assert.Nil(t, resp)
			require.ErrorIs(t, err, group.ErrInvalidConfig)
			for _, w := range c.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.EqualValues(t, 1, body.closed.Load())
		}
	}
	assert.Zero(t, g.Stats().Requests, "no pick")
	req, _ := http.NewRequest(http.MethodGet, "http://orders/", nil)
	t.Log((&httpgroup.Transport{}).RoundTrip(req))
}

func TestFailureCounting(t *testing.T) {
	status := 0
	be := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) })
	g := newGroup(t, group.Config{}, group.Backend{ID: "a", Addr: be.addr()})
	tr := httpgroup.NewTransport(g, testBase(t))
	for _, status = range []int{200, 404, 500, 503} {
		get(t, tr, "http://orders/", nil)
	}
	assert.EqualValues(t, 2, g.Stats().Failures, "500 and 503 by default")
	tr = &httpgroup.Transport{Group: g, Base: testBase(t),
		IsFailure: func(r *http.Response) bool { return r.StatusCode == 404 }}
	for _, status = range []int{200, 404, 500} {
		get(t, tr, "http://orders/", nil)
	}
	assert.EqualValues(t, 3, g.Stats().Failures, "404 with IsFailure")
	assert.Zero(t, g.Stats().InFlight)
}

// Done is called when the body is closed or read to EOF, not when
// RoundTrip returns.
func TestDoneWhenBodyEnds(t *testing.T) {
	// setup starts a backend that sends "head ", then "tail" once released.
	setup := func(t *testing.T) (*group.Group, http.RoundTripper, chan struct{}) {
		release := make(chan struct{})
		be := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodHead {
				return
			}
			io.WriteString(w, "head ")
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
			io.WriteString(w, "tail")
		})
		g := newGroup(t, group.Config{}, group.Backend{ID: "a", Addr: be.addr()})
		return g, httpgroup.NewTransport(g, testBase(t)), release
	}

	t.Run("Close", func(t *testing.T) {
		g, tr, _ := setup(t)
		req, _ := http.NewRequest(http.MethodGet, "http://orders/", nil)
		resp, err := tr.RoundTrip(req)
		require.NoError(t, err)
		assert.EqualValues(t, 1, inFlight(g), "in flight while the body is open")
		buf := make([]byte, 5)
		_, err = io.ReadFull(resp.Body, buf)
		require.NoError(t, err)
		assert.EqualValues(t, 1, inFlight(g))
		require.NoError(t, resp.Body.Close())
		assert.EqualValues(t, 0, inFlight(g), "done once closed")
		require.NoError(t, resp.Body.Close())
		assert.EqualValues(t, 0, inFlight(g), "done once")
		assert.Zero(t, g.Stats().Failures, "closing early is not a failure")
	})
	t.Run("EOF", func(t *testing.T) {
		g, tr, release := setup(t)
		req, _ := http.NewRequest(http.MethodGet, "http://orders/", nil)
		resp, err := tr.RoundTrip(req)
		require.NoError(t, err)
		assert.EqualValues(t, 1, inFlight(g))
		close(release)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Equal(t, "head tail", string(b))
		assert.EqualValues(t, 0, inFlight(g), "done at EOF, before Close")
		resp.Body.Close()
		assert.EqualValues(t, 0, inFlight(g))
	})
	t.Run("no body", func(t *testing.T) {
		g, tr, _ := setup(t)
		req, _ := http.NewRequest(http.MethodHead, "http://orders/", nil)
		resp, err := tr.RoundTrip(req)
		require.NoError(t, err)
		assert.Equal(t, http.NoBody, resp.Body)
		assert.EqualValues(t, 0, inFlight(g), "HEAD: done at once")
	})
}

// A request to a backend that hangs ends promptly with its context's
// error, releases the pick, and leaves no goroutine behind.
func TestContextCancel(t *testing.T) {
	hang := newBackend(t, "hang", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	g := newGroup(t, group.Config{}, group.Backend{ID: "hang", Addr: hang.addr()})
	base := testBase(t)
	tr := httpgroup.NewTransport(g, base)

	send := func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://orders/", nil)
		resp, err := tr.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	start := time.Now()
	err := send(ctx)
	cancel()
	took := time.Since(start)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, took, time.Second)
	var ae *httpgroup.AttemptsError
	require.ErrorAs(t, err, &ae)
	assert.Len(t, ae.Attempts, 1, "not retried once the context is done")
	assert.Zero(t, inFlight(g))
	assert.EqualValues(t, 1, g.Stats().Failures, "a deadline that runs out is the backend's failure")

	tr.CloseIdleConnections()
	hang.CloseClientConnections()
	baseline := goroutines()
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(20*time.Millisecond, cancel)
			err := send(ctx)
			if !errors.Is(err, context.Canceled) {
				t.Errorf("got %v, want context.Canceled", err)
			}
		})
	}
	wg.Wait()
	assert.Zero(t, inFlight(g))
	assert.EqualValues(t, 1, g.Stats().Failures, "cancelled requests are not failures")
	tr.CloseIdleConnections()
	hang.CloseClientConnections()
	waitGoroutines(t, baseline)
}

// goroutines returns the goroutine count once it has settled.
func goroutines() int {
	n := -1
	for n != countGoroutines() {
		n = countGoroutines()
		time.Sleep(20 * time.Millisecond)
	}
	return n
}

type closeCounter struct {
	io.Reader
	closed atomic.Int64
}

func (c *closeCounter) Close() error { c.closed.Add(1); return nil }

// The context's error is in the error whatever the attempt it ends, and a
// request whose context is done before it starts goes nowhere.
func TestContextErrorWrapped(t *testing.T) {
	hang := newBackend(t, "hang", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	g := newGroup(t, group.Config{}, group.Backend{ID: "hang", Addr: hang.addr()})
	rec := &recorder{base: testBase(t)}
	tr := &httpgroup.Transport{Group: g, Base: rec, MaxAttempts: 1}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://orders/", nil)
	_, err := tr.RoundTrip(req)
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	done, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ = http.NewRequestWithContext(done, http.MethodGet, "http://orders/", nil)
	_, err = tr.RoundTrip(req)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, inFlight(g))
	assert.EqualValues(t, 1, hang.hits.Load(), "the cancelled request never reached the backend")
}
