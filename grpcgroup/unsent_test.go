package grpcgroup_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/grpcgroup"
	"github.com/go-elb/elb/health"
)

// holdServer is a gRPC server on 127.0.0.1 that takes one stream at a time
// (MaxConcurrentStreams 1) and holds each EmptyCall until release is
// closed: a second call picked for it waits in the client for a stream.
type holdServer struct {
	testgrpc.UnimplementedTestServiceServer
	addr    string
	srv     *grpc.Server
	calls   atomic.Int64
	entered chan struct{} // a value for each call that reached the handler
	release chan struct{} // closed: the held calls return
}

func startHoldServer(t *testing.T) *holdServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	h := &holdServer{addr: ln.Addr().String(), srv: grpc.NewServer(grpc.MaxConcurrentStreams(1)),
		entered: make(chan struct{}, 8), release: make(chan struct{})}
	testgrpc.RegisterTestServiceServer(h.srv, h)
	go h.srv.Serve(ln)
	t.Cleanup(h.srv.Stop)
	return h
}

func (h *holdServer) EmptyCall(ctx context.Context, _ *testgrpc.Empty) (*testgrpc.Empty, error) {
	h.calls.Add(1)
	h.entered <- struct{}{}
	select {
	case <-h.release:
		return &testgrpc.Empty{}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// A call picked for a server that then drains (GOAWAY, graceful stop)
// before its stream could be opened never reaches that server: gRPC
// retries it transparently on another. The group counts the call once,
// on the server that served it, and charges the draining server no
// failure. The second call is made to wait for a stream on server A
// (which takes one at a time and holds the first), A is then stopped
// gracefully, and the waiting attempt ends with UNAVAILABLE and no byte
// sent; its transparent retry goes to B, added meanwhile.
func TestDrainingServerIsNotChargedForCallsItNeverSaw(t *testing.T) {
	a, b := startHoldServer(t), startServer(t, "127.0.0.1:0")
	reg, g := newGroup(t, group.Config{Algorithm: "round_robin",
		Outlier: &health.OutlierConfig{ConsecutiveFailures: 1, MaxEjectionPercent: 100}},
		group.Backend{ID: "a", Addr: a.addr})
	cc, err := grpc.NewClient("elb:///"+g.Name(), grpc.WithTransportCredentials(insecure.NewCredentials()), grpcgroup.WithRegistry(reg))
	require.NoError(t, err)
	defer cc.Close()
	c := testgrpc.NewTestServiceClient(cc)

	first, second := make(chan error, 1), make(chan error, 1)
	go func() { first <- call(context.Background(), c) }()
	select {
	case <-a.entered:
	case err := <-first:
		t.Fatalf("first call ended before A held it: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for A to hold the first call")
	}
	go func() { second <- call(context.Background(), c) }()
	// Picked for A, the second call waits for A's one stream.
	eventually(t, nil, "the second call to be picked", func() bool { return g.Stats().InFlight == 2 })
	require.NoError(t, g.Add(group.Backend{ID: "b", Addr: b.addr}))
	stopped := make(chan struct{})
	go func() { a.srv.GracefulStop(); close(stopped) }()

	select {
	case err := <-second:
		require.NoError(t, err, "the second call, retried transparently")
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for the second call")
	}
	close(a.release)
	require.NoError(t, <-first)
	<-stopped

	require.Equal(t, int64(1), a.calls.Load(), "A served the first call only")
	require.Equal(t, int64(1), b.calls.Load(), "B served the second")
	st := g.Stats()
	assert.Equal(t, uint64(2), st.Requests, "one request per call served")
	assert.Zero(t, st.Failures)
	assert.Zero(t, st.InFlight)
	assert.Zero(t, st.RepeatedDone)
	for _, bs := range st.Backends {
		want := map[string]int64{"a": a.calls.Load(), "b": b.calls.Load()}[bs.ID]
		assert.Equal(t, uint64(want), bs.Requests, "backend %s: its requests are the calls it served", bs.ID)
		assert.Zero(t, bs.Failures, "backend %s: no failure", bs.ID)
		assert.NotEqual(t, health.Ejected, bs.State, "backend %s", bs.ID)
	}
}

// failingCreds are per-RPC credentials whose token source is down.
type failingCreds struct{}

func (failingCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return nil, status.Error(codes.Unavailable, "token source down")
}

func (failingCreds) RequireTransportSecurity() bool { return false }

// A call that fails in the client before its stream is opened, here on
// its per-RPC credentials (UNAVAILABLE, which gRPC does not retry
// transparently), never reached the server: it is no request of the
// backend and no failure, and does not eject a healthy server.
func TestCredentialsErrorIsNoBackendFailure(t *testing.T) {
	ss := startServers(t, 1)
	reg, g := newGroup(t, group.Config{Algorithm: "round_robin",
		Outlier: &health.OutlierConfig{ConsecutiveFailures: 2, MaxEjectionPercent: 100}},
		group.Backend{Addr: ss[0].addr})
	cc, err := grpc.NewClient("elb:///"+g.Name(), grpc.WithTransportCredentials(insecure.NewCredentials()), grpcgroup.WithRegistry(reg))
	require.NoError(t, err)
	defer cc.Close()
	c := testgrpc.NewTestServiceClient(cc)
	require.NoError(t, call(context.Background(), c)) // connected
	for range 5 {
		// Fail fast: a backend ejected by these calls fails the next one
		// at once, with the group's error.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := c.EmptyCall(ctx, &testgrpc.Empty{}, grpc.PerRPCCredentials(failingCreds{}))
		cancel()
		require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
		require.ErrorContains(t, err, "token source down")
	}
	require.NoError(t, call(context.Background(), c))
	require.Equal(t, int64(2), ss[0].calls.Load())
	st := g.Stats()
	assert.Equal(t, uint64(2), st.Requests, "the calls the server saw")
	assert.Zero(t, st.Failures)
	assert.Zero(t, st.InFlight)
	assert.Equal(t, health.Healthy, st.Backends[0].State)
}
