package httpgroup_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/httpgroup"
)

// statusBase answers every request with its status and a body that reads
// "x" and then fails with err (io.EOF: ends), or with the request's
// context error once that is done.
type statusBase struct {
	status int
	err    error
}

type failingBody struct {
	ctx  context.Context
	err  error
	sent bool
}

func (b *failingBody) Read(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	if !b.sent {
		b.sent = true
		return copy(p, "x"), nil
	}
	return 0, b.err
}

func (b *failingBody) Close() error { return nil }

func (s statusBase) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: s.status, Header: http.Header{},
		Body: &failingBody{ctx: req.Context(), err: s.err}, Request: req}, nil
}

// How a response's body ends decides what the pick ends with: a 5xx read
// to EOF or closed is a failure (IsFailure's default), a read error is
// one whatever the status, and a read the caller cancelled is none, not
// even for a 5xx.
func TestBodyEnd(t *testing.T) {
	errBroken := errors.New("broken")
	cases := []struct {
		name     string
		status   int
		err      error
		cancel   bool // cancel the request before reading
		close    bool // close before EOF instead of reading to the end
		failures uint64
	}{
		{"200 to EOF", 200, io.EOF, false, false, 0},
		{"200 closed", 200, io.EOF, false, true, 0},
		{"500 to EOF", 500, io.EOF, false, false, 1},
		{"500 closed", 500, io.EOF, false, true, 1},
		{"200 read error", 200, errBroken, false, false, 1},
		{"500 read cancelled", 500, io.EOF, true, false, 0},
		{"200 read cancelled", 200, io.EOF, true, false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := newGroup(t, group.Config{Name: "body"}, group.Backend{Addr: "127.0.0.1:1"})
			tr := &httpgroup.Transport{Group: g, Base: statusBase{status: c.status, err: c.err}, MaxAttempts: 1}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://body/", nil)
			resp, err := tr.RoundTrip(req)
			require.NoError(t, err)
			assert.EqualValues(t, 1, inFlight(g), "in flight until the body ends")
			if c.cancel {
				cancel()
			}
			if !c.close {
				_, err = io.ReadAll(resp.Body)
				if c.err == io.EOF && !c.cancel {
					require.NoError(t, err)
				} else {
					require.Error(t, err)
				}
			}
			require.NoError(t, resp.Body.Close())
			require.NoError(t, resp.Body.Close(), "a second Close")
			assert.Zero(t, inFlight(g))
			st := g.Stats()
			assert.Equal(t, c.failures, st.Failures)
			assert.Zero(t, st.RepeatedDone, "the pick ends once")
		})
	}
}
