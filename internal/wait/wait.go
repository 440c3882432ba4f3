// Package wait waits on a health.Clock, so that what waits can be driven
// by a fake clock in tests.
package wait

import (
	"context"
	"time"

	"github.com/go-elb/elb/health"
)

// Sleep waits d on clk, or until ctx is done, when it returns ctx.Err().
// A d of 0 or less returns ctx.Err() at once.
func Sleep(ctx context.Context, clk health.Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	done := make(chan struct{})
	t := clk.AfterFunc(d, func() { close(done) })
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	}
}
