package grpcgroup_test

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// server is a gRPC server on 127.0.0.1 with grpc.testing.TestService and a
// grpc.health.v1 service of its own (not google.golang.org/grpc/health, so
// that nothing in the tests turns on gRPC's own health checking).
type server struct {
	testgrpc.UnimplementedTestServiceServer
	healthpb.UnimplementedHealthServer

	addr   string
	srv    *grpc.Server
	calls  atomic.Int64
	fail   atomic.Bool  // EmptyCall answers UNAVAILABLE
	status atomic.Int32 // the health service's answer
	// pushback, if set, is the grpc-retry-pushback-ms of the next
	// EmptyCall, which then fails with RESOURCE_EXHAUSTED.
	pushback atomic.Pointer[string]

	mu       sync.Mutex
	sessions map[string]int // x-session values seen
}

// startServer starts a server on 127.0.0.1; addr may be "127.0.0.1:0" or
// the address of one stopped earlier.
func startServer(t testing.TB, addr string) *server {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	// Stop waits for the handlers (all of which return at once), so that
	// a count read after Stop is final.
	s := &server{addr: ln.Addr().String(), srv: grpc.NewServer(grpc.WaitForHandlers(true)), sessions: make(map[string]int)}
	s.status.Store(int32(healthpb.HealthCheckResponse_SERVING))
	testgrpc.RegisterTestServiceServer(s.srv, s)
	healthpb.RegisterHealthServer(s.srv, s)
	go s.srv.Serve(ln)
	t.Cleanup(s.srv.Stop)
	return s
}

func startServers(t testing.TB, n int) []*server {
	out := make([]*server, n)
	for i := range out {
		out[i] = startServer(t, "127.0.0.1:0")
	}
	return out
}

func (s *server) EmptyCall(ctx context.Context, _ *testgrpc.Empty) (*testgrpc.Empty, error) {
	s.calls.Add(1)
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("x-session"); len(v) > 0 {
			s.mu.Lock()
			s.sessions[v[0]]++
			s.mu.Unlock()
		}
	}
	if s.fail.Load() {
		return nil, status.Error(codes.Unavailable, "failing on purpose")
	}
	if v := s.pushback.Swap(nil); v != nil {
		grpc.SetTrailer(ctx, metadata.Pairs("grpc-retry-pushback-ms", *v))
		return nil, status.Error(codes.ResourceExhausted, "pushing back on purpose")
	}
	return &testgrpc.Empty{}, nil
}

func (s *server) Check(context.Context, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_ServingStatus(s.status.Load())}, nil
}

func (s *server) setServing(ok bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if ok {
		st = healthpb.HealthCheckResponse_SERVING
	}
	s.status.Store(int32(st))
}

func (s *server) session(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[key]
}

func addrs(ss []*server) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.addr
	}
	return out
}

func resetCalls(ss []*server) {
	for _, s := range ss {
		s.calls.Store(0)
	}
}

func calls(ss []*server) []int64 {
	out := make([]int64, len(ss))
	for i, s := range ss {
		out[i] = s.calls.Load()
	}
	return out
}
