package grpcgroup

import (
	"errors"
	"sync"
	"time"

	gbalancer "google.golang.org/grpc/balancer"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/internal/mono"
)

// picker picks through the channel's view of its group: the group's
// algorithm chooses a member ready in the view, whose attachment there is
// its endpoint, with the endpoint's pick_first child.
type picker struct {
	v                  *group.View
	hashKey, stickyKey string  // metadata keys; "" = none
	failures           codeSet // status codes that count as failures
	// queue: a pick the group cannot serve waits for the next picker
	// (ErrNoSubConnAvailable) instead of failing, as while endpoints
	// await their first health checks or an event is on its way.
	queue bool
}

func (p *picker) Pick(info gbalancer.PickInfo) (gbalancer.PickResult, error) {
	var req group.Request
	if p.hashKey != "" {
		req.Key = firstValue(info, p.hashKey)
	}
	if p.stickyKey != "" {
		req.Affinity = firstValue(info, p.stickyKey)
	}
	pk, att, err := p.v.Pick(info.Ctx, req)
	if err != nil {
		if p.queue && !errors.Is(err, group.ErrPicker) {
			return gbalancer.PickResult{}, gbalancer.ErrNoSubConnAvailable
		}
		return gbalancer.PickResult{}, err // fails a call, or holds it for wait-for-ready
	}
	var child *gbalancer.Picker
	// The member's address is its endpoint's, but for the moment between
	// a change of a member's address and the resolver's news of it.
	if ep, _ := att.(*endpoint); ep != nil && ep.addr == pk.Addr() {
		child = ep.picker.Load()
	}
	if child == nil || *child == nil {
		pk.Release()
		return gbalancer.PickResult{}, gbalancer.ErrNoSubConnAvailable
	}
	res, err := (*child).Pick(info)
	if err != nil {
		// The child left READY after this picker was made: a new picker
		// is on its way, and another endpoint may take the call.
		pk.Release()
		return gbalancer.PickResult{}, gbalancer.ErrNoSubConnAvailable
	}
	d := donePool.Get().(*doneCall)
	d.pk, d.inner, d.failures, d.start = pk, res.Done, p.failures, mono.Now()
	res.Done = d.fn
	return res, nil
}

// firstValue returns the first value of an outgoing metadata key.
func firstValue(info gbalancer.PickInfo, key string) string {
	if info.Ctx == nil {
		return ""
	}
	if v := metadata.ValueFromOutgoingContext(info.Ctx, key); len(v) > 0 {
		return v[0]
	}
	return ""
}

// doneCall ends one call's pick. They are pooled, each with its Done
// function made once, so that a pick allocates nothing.
type doneCall struct {
	pk       group.Pick
	inner    func(gbalancer.DoneInfo)
	failures codeSet
	start    time.Duration            // when the call was picked: mono.Now
	fn       func(gbalancer.DoneInfo) // d.done
}

var donePool sync.Pool

func init() {
	donePool.New = func() any {
		d := new(doneCall)
		d.fn = d.done
		return d
	}
}

// done ends the pick of one attempt, and calls the child's Done. An
// attempt gRPC ends with DoneInfo.BytesSent false is released. gRPC sets
// BytesSent when it has opened the attempt's stream on the picked
// connection (grpc-go stream.go, csAttempt.finish: BytesSent:
// a.transportStream != nil), that is once the request's headers are
// queued for the server; BytesReceived is false too then. An
// attempt without one never reached the server, whatever its error:
//
//   - no error: the picked connection was no longer ready, and gRPC picks
//     again (picker_wrapper.go);
//   - UNAVAILABLE, the connection closing or draining (GOAWAY) before the
//     stream could be opened: gRPC retries the call transparently, with a
//     new pick, which is counted;
//   - an error of the client's own making before the stream: per-RPC
//     credentials that fail, an authority the credentials reject, headers
//     larger than the server accepts, the call's deadline or cancellation
//     while it waited for a stream the connection had no room for (the
//     server's MaxConcurrentStreams). gRPC does not retry these
//     transparently; a retry policy's retry is a new pick.
//
// So the pick is released: Stats counts the requests backends were sent,
// once per attempt that reached one, and a backend is charged only the
// failures of requests it was sent; a draining server is charged none
// for the calls that went elsewhere. An attempt that did reach the server
// counts, even one the server refused unprocessed (REFUSED_STREAM, or a
// GOAWAY naming an earlier last stream), or whose headers the connection
// closed on before they were written, which gRPC retries transparently
// too: DoneInfo does not tell those from a request the server failed.
func (d *doneCall) done(info gbalancer.DoneInfo) {
	pk, inner, failures, start := d.pk, d.inner, d.failures, d.start
	d.pk, d.inner = group.Pick{}, nil
	donePool.Put(d)
	if !info.BytesSent {
		// No stream was opened: the server never saw the attempt, which
		// counts neither as a request nor as a failure (see above).
		pk.Release()
	} else {
		// One monotonic clock read for the latency and its sample time
		// (internal/mono); a load report's Received reads the real clock.
		stop := mono.Now()
		r := group.Result{
			Err:        failure(info.Err, failures),
			Latency:    stop - start, // the whole call: gRPC reports its end
			RetryAfter: pushback(info.Trailer),
			ServerLoad: serverLoad(info.ServerLoad),
			End:        mono.Time(stop),
		}
		if !r.ServerLoad.IsZero() {
			r.End = time.Now()
		}
		pk.DoneWith(r)
	}
	if inner != nil {
		inner(info)
	}
}

// failure returns err if its status code counts as a failure, else nil.
func failure(err error, failures codeSet) error {
	if err != nil && failures.has(status.Code(err)) {
		return err
	}
	return nil
}
