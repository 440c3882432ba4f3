package httpgroup

import (
	"context"
	"io"
	"sync/atomic"
	"time"

	"github.com/go-elb/elb/balancer"
	"github.com/go-elb/elb/group"
)

// body wraps a response body: the first of EOF, a read error or Close ends
// the request's pick, once.
type body struct {
	rc      io.ReadCloser
	pick    group.Pick
	ctx     context.Context
	fail    error // what the response itself counts as: nil or errFailure
	latency time.Duration
	// retryAfter is the response's backoff hint (see retryAfter), load
	// its load report.
	retryAfter time.Duration
	load       balancer.ServerLoad
	done       atomic.Bool
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	switch {
	case err == nil:
	case err == io.EOF:
		b.finish(b.fail)
	default:
		b.finish(blame(b.ctx, err))
	}
	return n, err
}

// Close ends the pick first, so that a Read that fails because of the
// Close is not taken for the backend's failure.
func (b *body) Close() error {
	b.finish(b.fail)
	return b.rc.Close()
}

func (b *body) finish(err error) {
	if b.done.CompareAndSwap(false, true) {
		b.pick.DoneWith(group.Result{Err: err, Latency: b.latency, RetryAfter: b.retryAfter, ServerLoad: b.load})
	}
}

// upgradeBody is the body of a 101 Switching Protocols response: the
// upgraded connection, which can be written to as well.
type upgradeBody struct {
	*body
	w io.Writer
}

func (b *upgradeBody) Write(p []byte) (int, error) { return b.w.Write(p) }
