package grpcgroup

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	gbalancer "google.golang.org/grpc/balancer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/internal/adapterhook"
)

// readyPicker stands for a READY pick_first child.
type readyPicker struct{}

func (readyPicker) Pick(gbalancer.PickInfo) (gbalancer.PickResult, error) {
	return gbalancer.PickResult{}, nil
}

// newPicker is the picker of a channel whose n endpoints are all READY.
func newPicker(t testing.TB, n int, cfg string) *picker {
	c, err := ParseConfig([]byte(cfg))
	require.NoError(t, err)
	gc := c.groupConfig("bench", "", nil)
	g, err := group.New(gc)
	require.NoError(t, err)
	t.Cleanup(func() { g.Close(context.Background()) })
	v := g.NewView()
	for i := range n {
		id := fmt.Sprintf("10.0.%d.%d:80", i/256, i%256)
		require.NoError(t, g.Add(group.Backend{Addr: id}))
		require.NoError(t, adapterhook.SetReady(g, id, true, ""))
		ep := &endpoint{id: id, addr: id}
		var p gbalancer.Picker = readyPicker{}
		ep.picker.Store(&p)
		v.Attach(id, ep)
		v.SetReady(id, true, "")
	}
	p := &picker{v: v, hashKey: c.HashKey, failures: c.failures, queue: true}
	if c.Sticky != nil {
		p.stickyKey = c.Sticky.MetadataKey
	}
	return p
}

func TestPickerAllocatesNothing(t *testing.T) {
	for _, alg := range []string{"round_robin", "weighted_round_robin", "least_request"} {
		p := newPicker(t, 10, `{"algorithm": "`+alg+`"}`)
		info := gbalancer.PickInfo{FullMethodName: "/svc/M", Ctx: context.Background()}
		failure := status.Error(codes.Unavailable, "x")
		allocs := testing.AllocsPerRun(1000, func() {
			res, err := p.Pick(info)
			if err != nil {
				t.Fatal(err)
			}
			res.Done(gbalancer.DoneInfo{Err: failure, BytesSent: true})
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per pick", alg, allocs)
		}
		st := p.v.Group().Stats()
		if st.Failures == 0 || st.InFlight != 0 {
			t.Errorf("%s: Done did not reach the group: %d failures, %d in flight", alg, st.Failures, st.InFlight)
		}
	}
}

// BenchmarkPicker measures a pick and its Done; "child" is the pick_first
// child's pick alone, the floor.
func BenchmarkPicker(b *testing.B) {
	info := gbalancer.PickInfo{FullMethodName: "/svc/M", Ctx: context.Background()}
	sent := gbalancer.DoneInfo{BytesSent: true, BytesReceived: true}
	b.Run("child", func(b *testing.B) {
		var p gbalancer.Picker = readyPicker{}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				res, _ := p.Pick(info)
				if res.Done != nil {
					res.Done(sent)
				}
			}
		})
	})
	for _, alg := range []string{"round_robin", "weighted_round_robin", "least_request"} {
		b.Run(alg, func(b *testing.B) {
			p := newPicker(b, 10, `{"algorithm": "`+alg+`"}`)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					res, err := p.Pick(info)
					if err != nil {
						b.Fatal(err)
					}
					res.Done(sent) // a call that went out: the request path, not Release's
				}
			})
		})
	}
}

// failingPicker stands for a child that left READY after the picker was
// made.
type failingPicker struct{}

func (failingPicker) Pick(gbalancer.PickInfo) (gbalancer.PickResult, error) {
	return gbalancer.PickResult{}, fmt.Errorf("connection refused")
}

func TestPickerEdges(t *testing.T) {
	p := newPicker(t, 1, `{}`)
	info := gbalancer.PickInfo{FullMethodName: "/svc/M", Ctx: context.Background()}

	// gRPC ends a pick whose connection is no longer ready with an empty
	// DoneInfo and picks again: that call never went out.
	res, err := p.Pick(info)
	require.NoError(t, err)
	res.Done(gbalancer.DoneInfo{})
	st := p.v.Group().Stats()
	require.Zero(t, st.Requests, "a pick that was never sent counts neither way")
	require.Zero(t, st.InFlight)

	res, err = p.Pick(info)
	require.NoError(t, err)
	res.Done(gbalancer.DoneInfo{BytesSent: true, BytesReceived: true})
	require.Equal(t, uint64(1), p.v.Group().Stats().Requests)

	// A child that is no longer READY: the call waits for the next picker
	// rather than failing, and the pick is released.
	ep := p.v.Group().Backends()[0].ID
	fp := &endpoint{id: ep, addr: ep}
	var child gbalancer.Picker = failingPicker{}
	fp.picker.Store(&child)
	p.v.Attach(ep, fp)
	_, err = p.Pick(info)
	require.ErrorIs(t, err, gbalancer.ErrNoSubConnAvailable)
	require.Zero(t, p.v.Group().Stats().InFlight)
	require.Equal(t, uint64(1), p.v.Group().Stats().Requests)

	// An endpoint of another address than its member's (a member whose
	// address changed, before the resolver's news): the call waits.
	other := &endpoint{id: ep, addr: "10.9.9.9:80"}
	var ok gbalancer.Picker = readyPicker{}
	other.picker.Store(&ok)
	p.v.Attach(ep, other)
	_, err = p.Pick(info)
	require.ErrorIs(t, err, gbalancer.ErrNoSubConnAvailable)
	require.Zero(t, p.v.Group().Stats().InFlight)
}

// TestPickerDoneInfoShapes: an attempt counts as a request of its backend
// when gRPC opened its stream (BytesSent), and as a failure when its code
// is one of failureCodes; without a stream the server never saw it, and
// it counts neither way, whatever its error (see unsent).
func TestPickerDoneInfoShapes(t *testing.T) {
	unavailable := status.Error(codes.Unavailable, "x")
	for _, tc := range []struct {
		name               string
		info               gbalancer.DoneInfo
		requests, failures uint64
	}{
		{"connection no longer ready, picked again", gbalancer.DoneInfo{}, 0, 0},
		{"connection draining before the stream, retried transparently",
			gbalancer.DoneInfo{Err: status.Error(codes.Unavailable, "the connection is draining")}, 0, 0},
		{"connection closing before the stream, retried transparently",
			gbalancer.DoneInfo{Err: status.Error(codes.Unavailable, "transport is closing")}, 0, 0},
		{"per-RPC credentials failed", gbalancer.DoneInfo{Err: status.Error(codes.Unauthenticated, "x")}, 0, 0},
		{"per-RPC credentials unavailable", gbalancer.DoneInfo{Err: unavailable}, 0, 0},
		{"deadline while waiting for a stream", gbalancer.DoneInfo{Err: status.Error(codes.DeadlineExceeded, "x")}, 0, 0},
		{"headers too large", gbalancer.DoneInfo{Err: status.Error(codes.Internal, "x")}, 0, 0},
		{"success", gbalancer.DoneInfo{BytesSent: true, BytesReceived: true}, 1, 0},
		{"sent, no answer yet", gbalancer.DoneInfo{BytesSent: true}, 1, 0},
		{"sent, connection lost", gbalancer.DoneInfo{Err: unavailable, BytesSent: true}, 1, 1},
		{"sent, server failed", gbalancer.DoneInfo{Err: unavailable, BytesSent: true, BytesReceived: true}, 1, 1},
		{"sent, deadline", gbalancer.DoneInfo{Err: status.Error(codes.DeadlineExceeded, "x"), BytesSent: true}, 1, 1},
		{"sent, not a failure code", gbalancer.DoneInfo{Err: status.Error(codes.NotFound, "x"), BytesSent: true, BytesReceived: true}, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPicker(t, 1, `{}`)
			ep := p.v.Group().Backends()[0].ID
			var child recordingPicker
			e := &endpoint{id: ep, addr: ep}
			var cp gbalancer.Picker = &child
			e.picker.Store(&cp)
			p.v.Attach(ep, e)
			res, err := p.Pick(gbalancer.PickInfo{FullMethodName: "/svc/M", Ctx: context.Background()})
			require.NoError(t, err)
			res.Done(tc.info)
			st := p.v.Group().Stats()
			require.Equal(t, tc.requests, st.Requests, "requests")
			require.Equal(t, tc.failures, st.Failures, "failures")
			require.Zero(t, st.InFlight)
			require.Zero(t, st.RepeatedDone)
			require.Equal(t, []gbalancer.DoneInfo{tc.info}, child.done, "the child's Done, called either way")
		})
	}
}

// recordingPicker is a READY child whose picks' Done records their
// DoneInfo.
type recordingPicker struct{ done []gbalancer.DoneInfo }

func (r *recordingPicker) Pick(gbalancer.PickInfo) (gbalancer.PickResult, error) {
	return gbalancer.PickResult{Done: func(info gbalancer.DoneInfo) { r.done = append(r.done, info) }}, nil
}
