package grpcgroup_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"

	"github.com/go-elb/elb/balancer"
	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/grpcgroup"
	"github.com/go-elb/elb/loadreport"
	"github.com/go-elb/elb/loadreport/grpcreport"
)

// startReporting starts a server on 127.0.0.1 that reports utilization
// util: in every call's ORCA trailer with trailers, and on ORCA's
// out-of-band stream with oob.
func startReporting(t testing.TB, util float64, trailers, oob bool) *server {
	t.Helper()
	rep, err := loadreport.New(loadreport.Config{Utilization: func() float64 { return util }, RateWindow: 100 * time.Millisecond})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var opts []grpc.ServerOption
	if trailers {
		opts = grpcreport.ServerOptions(rep)
	}
	s := &server{addr: ln.Addr().String(), srv: grpc.NewServer(append(opts, grpc.WaitForHandlers(true))...), sessions: map[string]int{}}
	s.status.Store(int32(healthpb.HealthCheckResponse_SERVING))
	testgrpc.RegisterTestServiceServer(s.srv, s)
	healthpb.RegisterHealthServer(s.srv, s)
	if oob {
		require.NoError(t, grpcreport.Register(s.srv, rep, 0))
	}
	go s.srv.Serve(ln)
	t.Cleanup(s.srv.Stop)
	return s
}

// A server whose ORCA trailers report high utilization gets a smaller
// share under load_report_wrr.
func TestORCATrailersShares(t *testing.T) {
	ss := []*server{startReporting(t, 0.9, true, false), startReporting(t, 0.1, true, false)}
	reg, _ := newGroup(t, group.Config{Algorithm: `{"load_report_wrr": {"blackoutPeriod": "0s", "weightUpdatePeriod": "100ms"}}`},
		group.Backend{Addr: ss[0].addr}, group.Backend{Addr: ss[1].addr})
	c := dial(t, "elb:///TestORCATrailersShares", `{}`, grpcgroup.WithRegistry(reg))
	warmUp(t, c, ss)
	send := func(n int) {
		for range n {
			require.NoError(t, call(context.Background(), c))
		}
	}
	// As in httpgroup's test: a full rate window for a qps, then a
	// recompute.
	send(64)
	time.Sleep(150 * time.Millisecond)
	send(64)
	time.Sleep(150 * time.Millisecond)
	send(64)
	time.Sleep(50 * time.Millisecond)
	resetCalls(ss)
	send(400)
	got := calls(ss)
	t.Logf("calls %v", got)
	require.Less(t, got[0], int64(400/4), "the server reporting 90%% utilization got %d of 400 calls", got[0])
}

// captured are the endpoints load_capture last built a picker over: the
// group's Loads.
var captured struct {
	sync.Mutex
	eps []balancer.Endpoint
}

type captureLoads struct{}

func (captureLoads) Build(eps []balancer.Endpoint) balancer.Picker {
	captured.Lock()
	captured.eps = eps
	captured.Unlock()
	return balancer.RoundRobin{}.Build(eps)
}

func init() { _ = balancer.Register("test_capture_loads", captureLoads{}) }

// With oobLoadReport, a server's out-of-band reports reach its member's
// Load, without any call carrying a trailer.
func TestORCAOutOfBand(t *testing.T) {
	s := startReporting(t, 0.7, false, true)
	reg, _ := newGroup(t, group.Config{Algorithm: "test_capture_loads"}, group.Backend{Addr: s.addr})
	c := dial(t, "elb:///TestORCAOutOfBand", `{"oobLoadReport": {"interval": "1s"}}`, grpcgroup.WithRegistry(reg))
	require.NoError(t, call(context.Background(), c))
	deadline := time.Now().Add(10 * time.Second)
	for {
		captured.Lock()
		eps := captured.eps
		captured.Unlock()
		if len(eps) == 1 {
			if r, _, ok := eps[0].Load.ServerLoad(); ok {
				require.Equal(t, 0.7, r.ApplicationUtilization)
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no out-of-band report within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestOOBLoadReportConfig(t *testing.T) {
	for _, js := range []string{`{"oobLoadReport": {"interval": "10ms"}}`, `{"oobLoadReport": {"interval": "2h"}}`, `{"oobLoadReport": {"interval": 5}}`, `{"oobLoadReport": {"every": "1s"}}`} {
		_, err := grpcgroup.ParseConfig([]byte(js))
		require.Error(t, err, js)
	}
	cfg, err := grpcgroup.ParseConfig([]byte(`{"oobLoadReport": {}}`))
	require.NoError(t, err)
	require.NotNil(t, cfg.OOBLoadReport)
}
