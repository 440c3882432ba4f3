package grpcgroup_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/grpcgroup"
	"github.com/go-elb/elb/health"
)

func TestHealthTurnedOnByConfigChange(t *testing.T) {
	ss := startServers(t, 2)
	ss[1].setServing(false)
	r := manual.NewBuilderWithScheme("cfgchange")
	var eps []resolver.Endpoint
	for _, a := range addrs(ss) {
		eps = append(eps, resolver.Endpoint{Addresses: []resolver.Address{{Addr: a}}})
	}
	r.InitialState(resolver.State{Endpoints: eps})
	cc, err := grpc.NewClient("cfgchange:///x", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(policy(`{"algorithm": "round_robin"}`)), grpc.WithResolvers(r))
	require.NoError(t, err)
	defer cc.Close()
	c := testgrpc.NewTestServiceClient(cc)
	warmUp(t, c, ss) // both connected and taking calls: no health checks yet

	sc := r.CC().ParseServiceConfig(policy(`{"algorithm": "round_robin", "health": {"interval": "1s"}}`))
	require.NoError(t, sc.Err)
	r.UpdateState(resolver.State{Endpoints: eps, ServiceConfig: sc})
	eventually(t, nil, "the checks over the connections made before health was on", func() bool {
		g := channelGroup(t, "x")
		return stateOf(g, ss[0].addr) == health.Healthy && stateOf(g, ss[1].addr) != health.Initial
	})
	resetCalls(ss)
	for range 20 {
		require.NoError(t, call(context.Background(), c))
	}
	assert.Equal(t, []int64{20, 0}, calls(ss), "the NOT_SERVING server is out")
}

func TestOpaqueAddresses(t *testing.T) {
	ln := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	s := &server{sessions: map[string]int{}}
	testgrpc.RegisterTestServiceServer(srv, s)
	go srv.Serve(ln)
	defer srv.Stop()
	c := dial(t, "passthrough:///bufnet", `{}`, grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
		return ln.DialContext(ctx)
	}))
	require.NoError(t, call(context.Background(), c), "an address that is not host:port, as bufconn and unix sockets have")
	assert.Equal(t, int64(1), s.calls.Load())
}

func TestClosedSourceGroup(t *testing.T) {
	ss := startServers(t, 2)
	reg, g1 := closingGroup(t, "closing", ss[0])
	c := dial(t, "elb:///closing", `{}`, grpcgroup.WithRegistry(reg))
	require.NoError(t, call(context.Background(), c))

	require.NoError(t, g1.Close(context.Background()))
	eventually(t, nil, "calls to fail once the group is closed", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := c.EmptyCall(ctx, &testgrpc.Empty{})
		return status.Code(err) == codes.Unavailable
	})
	before := ss[0].calls.Load()

	g2, err := group.New(group.Config{Name: "closing", Registry: reg})
	require.NoError(t, err)
	defer g2.Close(context.Background())
	require.NoError(t, g2.Add(group.Backend{Addr: ss[1].addr}))
	require.NoError(t, call(context.Background(), c), "a group registered anew under the name is found")
	assert.Equal(t, int64(1), ss[1].calls.Load())
	assert.Equal(t, before, ss[0].calls.Load())
}

func TestSourceGroupChecksPendingQueue(t *testing.T) {
	ss := startServers(t, 1)
	var mu sync.Mutex
	gate := make(chan struct{})
	probe := health.ProbeFunc(func(ctx context.Context, _ string) error {
		mu.Lock()
		g := gate
		mu.Unlock()
		select {
		case <-g:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	reg, _ := newGroup(t, group.Config{Name: "pending", Health: &health.Config{Probe: probe, Interval: 5 * time.Second, HealthyThreshold: 1}},
		group.Backend{Addr: ss[0].addr})
	c := dial(t, "elb:///pending", `{}`, grpcgroup.WithRegistry(reg))

	// The source group's first check is under way: a fail-fast call waits
	// (CONNECTING) instead of failing with UNAVAILABLE.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := c.EmptyCall(ctx, &testgrpc.Empty{})
	assert.Equal(t, codes.DeadlineExceeded, status.Code(err), "%v", err)

	close(gate)
	require.NoError(t, call(context.Background(), c))
}

func TestReconnectWaitsForACheck(t *testing.T) {
	ss := startServers(t, 1)
	addr := ss[0].addr
	c := dial(t, "passthrough:///"+addr, `{"health": {"interval": "1s", "unhealthyThreshold": 3}}`)
	require.NoError(t, call(context.Background(), c))
	cg := channelGroup(t, addr)
	require.Equal(t, health.Healthy, stateOf(cg, addr))

	ss[0].srv.Stop()
	eventually(t, nil, "the connection loss", func() bool { return stateOf(cg, addr) == health.Unhealthy })
	s := startServer(t, addr)
	s.setServing(false)
	// Connected again, but NOT_SERVING now: the check made on reconnection
	// keeps it out, where the old Healthy verdict would have let it in.
	eventually(t, nil, "the check on reconnection", func() bool {
		for _, b := range cg.Stats().Backends {
			if b.Unreachable == "" && b.LastError != "" {
				return true
			}
		}
		return false
	})
	assert.Equal(t, health.Unhealthy, stateOf(cg, addr))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := c.EmptyCall(ctx, &testgrpc.Empty{}, grpc.WaitForReady(true))
	assert.Equal(t, codes.DeadlineExceeded, status.Code(err))
	assert.Zero(t, s.calls.Load())
}

func TestRegisterGlobally(t *testing.T) {
	ss := startServers(t, 1)
	reg, _ := newGroup(t, group.Config{Name: "global"}, group.Backend{Addr: ss[0].addr})
	grpcgroup.Register(reg) // gRPC's global resolver registry: elb:/// in every channel
	c := dial(t, "elb:///global", `{}`)
	require.NoError(t, call(context.Background(), c))
	assert.Equal(t, int64(1), ss[0].calls.Load())
}

func TestChannelCloseReleasesItsGroup(t *testing.T) {
	ss := startServers(t, 1)
	cc, err := grpc.NewClient("passthrough:///"+ss[0].addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(policy(`{"health": {"interval": "1s"}}`)))
	require.NoError(t, err)
	require.NoError(t, call(context.Background(), testgrpc.NewTestServiceClient(cc)))
	g := channelGroup(t, ss[0].addr)
	require.NoError(t, cc.Close())
	eventually(t, nil, "the channel's group to close and leave Channels", func() bool {
		_, ok := grpcgroup.Channels.Group(g.Name())
		return !ok && g.Stats().Closed
	})
}
