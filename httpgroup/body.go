package httpgroup

import (
	"io"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/go-elb/elb/group"
)

// attempt is what one attempt allocates, in one object: the copy of the
// request and its URL that is sent and, once there is a response with a
// body, the wrapper of that body that ends the pick (the attempt is the
// response's Body). The first of EOF, a read error or Close ends the pick,
// once.
//
// It takes 560 bytes, 568 with the allocator's header: the 576-byte size
// class (a context, an error and a parsed 64-byte report in it would take
// the 640-byte one; the 512-byte one is out of reach, as the copies of the
// request and URL take 448 bytes and the body and Pick 48). Beyond the
// Pick, the pick's end needs the latency and its end (group.Result.End:
// the clock read that timed it, see internal/mono, which DoneWith then need not
// take), the Retry-After hint, the load report's header value (parsed when
// the pick ends; "" for most responses) and one word of state; the context
// is the request's.
type attempt struct {
	req http.Request
	url url.URL

	rc         io.ReadCloser // the response's body
	pick       group.Pick
	latency    time.Duration
	end        time.Time     // when the response's headers came: the latency's end
	retryAfter time.Duration // the response's backoff hint (see retryAfter)
	load       string        // the load report's header value (see loadHeader); "" for none
	state      atomic.Uint32 // stateDone, stateFailed, stateLoadBin
}

// The bits of attempt.state.
const (
	stateDone    = 1 << iota // the pick has ended
	stateFailed              // the response counts as a failure (IsFailure)
	stateLoadBin             // load is a loadreport.HeaderBin value
)

// Read reads the response's body; EOF or an error ends the pick.
func (a *attempt) Read(p []byte) (int, error) {
	n, err := a.rc.Read(p)
	if err != nil {
		a.readEnd(err)
	}
	return n, err
}

// readEnd ends the pick at a read's error: the response's own verdict on
// EOF, the error (unless the caller cancelled the request) otherwise.
func (a *attempt) readEnd(err error) {
	if err == io.EOF {
		a.finish(nil, true)
		return
	}
	a.finish(blame(a.req.Context(), err), false)
}

// Close ends the pick first, so that a Read that fails because of the
// Close is not taken for the backend's failure.
func (a *attempt) Close() error {
	a.finish(nil, true)
	return a.rc.Close()
}

// finish ends the pick, once: with err, or, if own, with the response's
// own verdict (IsFailure's).
func (a *attempt) finish(err error, own bool) {
	if a.state.Load()&stateDone != 0 { // the Close after EOF: no locked write
		return
	}
	s := a.state.Or(stateDone)
	if s&stateDone != 0 {
		return
	}
	if own && s&stateFailed != 0 {
		err = errFailure
	}
	r := group.Result{Err: err, Latency: a.latency, RetryAfter: a.retryAfter, End: a.end}
	if a.load != "" {
		r.ServerLoad = parseLoad(a.load, s&stateLoadBin != 0)
	}
	a.pick.DoneWith(r)
}

// upgradeBody is the body of a 101 Switching Protocols response: the
// upgraded connection, which can be written to as well.
type upgradeBody struct {
	*attempt
	w io.Writer
}

func (b *upgradeBody) Write(p []byte) (int, error) { return b.w.Write(p) }
