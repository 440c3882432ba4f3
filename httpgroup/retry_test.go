package httpgroup_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/httpgroup"
)

// echo answers with the request's body.
func echo(w http.ResponseWriter, r *http.Request) { io.Copy(w, r.Body) }

// firstThenSecond makes a group whose first pick is first and whose
// second is second.
func firstThenSecond(t *testing.T, first, second string) *group.Group {
	return newGroup(t, group.Config{Name: "orders", Algorithm: inOrder},
		group.Backend{ID: "first", Addr: first},
		group.Backend{ID: "second", Addr: second})
}

// newSlammer starts a server on 127.0.0.1 that reads each request and
// closes the connection without answering: a failure after the request
// was sent. It returns its address and the count of requests it read.
func newSlammer(t *testing.T) (string, *atomic.Int64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				io.Copy(io.Discard, req.Body)
				n.Add(1)
			}()
		}
	}()
	return ln.Addr().String(), &n
}

func TestNotReplayableBody(t *testing.T) {
	live := newBackend(t, "second", echo)
	g := firstThenSecond(t, deadAddr(t), live.addr())
	rec := &recorder{base: testBase(t)}
	tr := httpgroup.NewTransport(g, rec)

	body := io.NopCloser(strings.NewReader("payload")) // no GetBody
	req, _ := http.NewRequest(http.MethodPost, "http://orders/", body)
	require.Nil(t, req.GetBody)
	_, err := tr.RoundTrip(req)
	require.Error(t, err)
	t.Log(err)
	assert.ErrorIs(t, err, httpgroup.ErrNotReplayable)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED, "wraps the transport's error")
	assert.Contains(t, err.Error(), "request body cannot be replayed (no GetBody); not retried")
	assert.Len(t, rec.dialled(), 1, "not retried")
	assert.Zero(t, live.hits.Load())
	assert.Zero(t, inFlight(g))
}

func TestReplayableBodyRetriedOnDialError(t *testing.T) {
	live := newBackend(t, "second", echo)
	g := firstThenSecond(t, deadAddr(t), live.addr())
	rec := &recorder{base: testBase(t)}
	tr := httpgroup.NewTransport(g, rec)

	req, _ := http.NewRequest(http.MethodPost, "http://orders/", strings.NewReader("payload"))
	require.NotNil(t, req.GetBody)
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "payload", string(b), "the body is sent again in full")
	assert.Equal(t, "second", resp.Header.Get("X-Backend"))
	assert.Len(t, rec.dialled(), 2)
	st := g.Stats()
	assert.EqualValues(t, 1, st.Failures)
	assert.Zero(t, st.InFlight)
}

// A failure after the request may have been sent retries idempotent
// requests only.
func TestRetryAfterSentOnlyIfIdempotent(t *testing.T) {
	cases := []struct {
		name    string
		method  string
		header  string
		retried bool
	}{
		{"POST", http.MethodPost, "", false},
		{"PATCH", http.MethodPatch, "", false},
		{"GET", http.MethodGet, "", true},
		{"PUT", http.MethodPut, "", true},
		{"DELETE", http.MethodDelete, "", true},
		{"POST with Idempotency-Key", http.MethodPost, "Idempotency-Key", true},
		{"POST with X-Idempotency-Key", http.MethodPost, "X-Idempotency-Key", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			slam, read := newSlammer(t)
			live := newBackend(t, "second", echo)
			g := firstThenSecond(t, slam, live.addr())
			tr := httpgroup.NewTransport(g, testBase(t))
			req, _ := http.NewRequest(c.method, "http://orders/", strings.NewReader("payload"))
			if c.header != "" {
				req.Header.Set(c.header, "k1")
			}
			resp, err := tr.RoundTrip(req)
			assert.EqualValues(t, 1, read.Load(), "the first backend read the request")
			if !c.retried {
				require.Error(t, err)
				t.Log(err)
				assert.ErrorIs(t, err, httpgroup.ErrNotIdempotent)
				assert.Zero(t, live.hits.Load())
				return
			}
			require.NoError(t, err)
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, "payload", string(b))
			assert.EqualValues(t, 1, live.hits.Load())
			assert.Zero(t, inFlight(g))
		})
	}
}

func TestAttemptsExhausted(t *testing.T) {
	g := newGroup(t, group.Config{Name: "orders"},
		group.Backend{ID: "a", Addr: deadAddr(t)},
		group.Backend{ID: "b", Addr: deadAddr(t)},
		group.Backend{ID: "c", Addr: deadAddr(t)},
		group.Backend{ID: "d", Addr: deadAddr(t)})
	for _, max := range []int{0, 1, 2, 4} {
		tr := &httpgroup.Transport{Group: g, Base: testBase(t), MaxAttempts: max}
		req, _ := http.NewRequest(http.MethodGet, "http://orders/", nil)
		_, err := tr.RoundTrip(req)
		require.Error(t, err)
		var ae *httpgroup.AttemptsError
		require.ErrorAs(t, err, &ae)
		want := max
		if max == 0 {
			want = httpgroup.DefaultMaxAttempts
		}
		require.Len(t, ae.Attempts, want)
		assert.Nil(t, ae.Reason)
		seen := map[string]bool{}
		for i, a := range ae.Attempts {
			assert.Equal(t, i+1, a.Attempt)
			assert.False(t, seen[a.ID], "each attempt on another backend: %v", err)
			seen[a.ID] = true
			assert.ErrorIs(t, a, syscall.ECONNREFUSED)
		}
		assert.ErrorIs(t, err, syscall.ECONNREFUSED)
		if max == 2 {
			t.Log(err)
		}
	}
	assert.Zero(t, inFlight(g))
}

func TestRetryStatus(t *testing.T) {
	unavailable := func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		http.Error(w, strings.Repeat("busy ", 2000), http.StatusServiceUnavailable)
	}
	run := func(t *testing.T, tr *httpgroup.Transport, method string, body io.Reader) (*http.Response, string) {
		req, _ := http.NewRequest(method, "http://orders/", body)
		resp, err := tr.RoundTrip(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	setup := func(t *testing.T) (*group.Group, *backend, *backend) {
		busy, ok := newBackend(t, "first", unavailable), newBackend(t, "second", echo)
		return firstThenSecond(t, busy.addr(), ok.addr()), busy, ok
	}

	t.Run("GET retried", func(t *testing.T) {
		g, busy, _ := setup(t)
		tr := &httpgroup.Transport{Group: g, Base: testBase(t), RetryStatus: true}
		resp, _ := run(t, tr, http.MethodGet, nil)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "second", resp.Header.Get("X-Backend"))
		assert.EqualValues(t, 1, busy.hits.Load())
		assert.EqualValues(t, 1, g.Stats().Failures, "the 503 counts as a failure")
		assert.Zero(t, inFlight(g))
	})
	t.Run("PUT with a replayable body retried", func(t *testing.T) {
		g, _, _ := setup(t)
		tr := &httpgroup.Transport{Group: g, Base: testBase(t), RetryStatus: true}
		resp, body := run(t, tr, http.MethodPut, strings.NewReader("v2"))
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "v2", body)
	})
	t.Run("PUT with a body that cannot be replayed not retried", func(t *testing.T) {
		g, _, _ := setup(t)
		tr := &httpgroup.Transport{Group: g, Base: testBase(t), RetryStatus: true}
		resp, _ := run(t, tr, http.MethodPut, io.NopCloser(strings.NewReader("v2")))
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	})
	t.Run("POST not retried", func(t *testing.T) {
		g, _, ok := setup(t)
		tr := &httpgroup.Transport{Group: g, Base: testBase(t), RetryStatus: true}
		resp, _ := run(t, tr, http.MethodPost, strings.NewReader("order"))
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
		assert.Zero(t, ok.hits.Load())
		assert.Zero(t, inFlight(g))
	})
	t.Run("off by default", func(t *testing.T) {
		g, _, _ := setup(t)
		resp, _ := run(t, httpgroup.NewTransport(g, testBase(t)), http.MethodGet, nil)
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	})
	t.Run("the last attempt's response", func(t *testing.T) {
		a, b := newBackend(t, "a", unavailable), newBackend(t, "b", unavailable)
		g := newGroup(t, group.Config{}, group.Backend{ID: "a", Addr: a.addr()}, group.Backend{ID: "b", Addr: b.addr()})
		tr := &httpgroup.Transport{Group: g, Base: testBase(t), RetryStatus: true}
		resp, body := run(t, tr, http.MethodGet, nil)
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
		assert.Contains(t, body, "busy", "its body is intact")
		assert.EqualValues(t, 3, a.hits.Load()+b.hits.Load(), "three attempts")
		assert.Zero(t, inFlight(g))
	})
}
