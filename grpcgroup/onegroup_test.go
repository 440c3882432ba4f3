package grpcgroup_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/go-elb/elb/balancer"
	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/grpcgroup"
	"github.com/go-elb/elb/health"
	"github.com/go-elb/elb/sticky"
)

// open opens a channel to target with no service config of the user's
// and waits until its calls are picked from the group g (the resolver's
// config swaps elb in: see the package documentation).
func open(t *testing.T, target string, g *group.Group, opts ...grpc.DialOption) (*grpc.ClientConn, testgrpc.TestServiceClient) {
	t.Helper()
	cc, err := grpc.NewClient(target, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { cc.Close() })
	c := testgrpc.NewTestServiceClient(cc)
	before := g.Stats().Requests
	eventually(t, c, "the channel to pick from the group", func() bool { return g.Stats().Requests > before })
	return cc, c
}

// callOn makes a call with the session key (if any) and returns the
// address of the server that served it.
func callOn(t *testing.T, c testgrpc.TestServiceClient, session string) string {
	t.Helper()
	ctx := context.Background()
	if session != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "x-session", session)
	}
	var p peer.Peer
	require.NoError(t, call(ctx, c, grpc.Peer(&p)))
	return p.Addr.String()
}

// Two channels to elb:///orders, with no service config, and direct
// Picks of the group orders are one group: its Stats count every call, a
// binding made through one channel is followed by the other, an ejection
// learned from one channel's calls applies to the other and to Pick, a
// connection down on one channel gates that channel only, and the
// group's state survives the channels' policies being rebuilt (idle mode).
func TestOneGroupAcrossChannels(t *testing.T) {
	ss := startServers(t, 3)
	reg, g := newGroup(t, group.Config{Name: "orders", Algorithm: balancer.NameRoundRobin,
		Outlier: &health.OutlierConfig{ConsecutiveFailures: 3, BaseEjectionTime: time.Minute},
		Sticky:  &sticky.Config{Mode: sticky.Header, Header: "X-Session"}},
		group.Backend{ID: "a", Addr: ss[0].addr}, group.Backend{ID: "b", Addr: ss[1].addr}, group.Backend{ID: "c", Addr: ss[2].addr})
	// Channel 2 cannot reach server c: its dialer refuses.
	refuse := grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
		if addr == ss[2].addr {
			return nil, fmt.Errorf("refused by the test")
		}
		return new(net.Dialer).DialContext(ctx, "tcp", addr)
	})
	cc1, c1 := open(t, "elb:///orders", g, grpcgroup.WithRegistry(reg), grpc.WithIdleTimeout(300*time.Millisecond))
	_, c2 := open(t, "elb:///orders", g, grpcgroup.WithRegistry(reg), refuse)
	assert.Empty(t, grpcgroup.Channels.Groups(), "no group of a channel's own under elb:///")

	// Balanced over every server (not pick_first), counted in the group.
	eventually(t, c1, "channel 1 to reach every server", func() bool { return ss[0].calls.Load()*ss[1].calls.Load()*ss[2].calls.Load() > 0 })
	resetCalls(ss)
	before := g.Stats().Requests
	const n = 60
	for range n {
		callOn(t, c1, "")
	}
	for _, k := range calls(ss) {
		assert.InDelta(t, n/3, k, n/6, "round robin over the three servers: %v", calls(ss))
	}
	served2 := map[string]int{}
	for range n {
		served2[callOn(t, c2, "")]++
	}
	assert.Zero(t, served2[ss[2].addr], "channel 2 cannot reach c: %v", served2)
	assert.Equal(t, health.Healthy, stateOf(g, ss[2].addr), "c is healthy in the group all the same")
	for range n {
		p, err := g.Pick(context.Background(), group.Request{})
		require.NoError(t, err)
		p.Done(nil)
	}
	assert.Equal(t, before+3*n, g.Stats().Requests, "the group counts both channels' calls and the direct picks")

	// A binding made through channel 1 is followed by channel 2 and Pick.
	var session, bound string
	for i := range 100 {
		session = fmt.Sprint("user-", i)
		if bound = callOn(t, c1, session); bound == ss[0].addr {
			break // one channel 2 can reach, and not to be ejected
		}
	}
	require.Equal(t, ss[0].addr, bound)
	for range 5 {
		assert.Equal(t, bound, callOn(t, c2, session), "channel 2 follows channel 1's binding")
		p, err := g.Pick(context.Background(), group.Request{Affinity: session})
		require.NoError(t, err)
		assert.Equal(t, bound, p.Addr())
		assert.True(t, p.StickyHit())
		p.Done(nil)
	}

	// An ejection learned from channel 1's calls applies to channel 2.
	ss[1].fail.Store(true)
	eventually(t, nil, "b to be ejected by channel 1's failures", func() bool {
		_ = call(context.Background(), c1)
		return stateOf(g, ss[1].addr) == health.Ejected
	})
	ss[1].fail.Store(false)
	resetCalls(ss)
	for range 20 {
		callOn(t, c2, "")
		p, err := g.Pick(context.Background(), group.Request{})
		require.NoError(t, err)
		assert.NotEqual(t, ss[1].addr, p.Addr())
		p.Done(nil)
	}
	assert.Zero(t, ss[1].calls.Load(), "channel 2 sends nothing to the ejected server")

	// Channel 1 goes idle (its policy is closed) and comes back (a new
	// policy): the ejection and the binding hold, the counts go on.
	eventually(t, nil, "channel 1 to go idle", func() bool { return cc1.GetState() == connectivity.Idle })
	assert.Equal(t, health.Ejected, stateOf(g, ss[1].addr))
	// While the new policy's connections come up, a call bound to one not
	// up yet goes elsewhere (the binding stays): wait for them.
	resetCalls(ss)
	eventually(t, c1, "channel 1 to reconnect to a and c", func() bool { return ss[0].calls.Load()*ss[2].calls.Load() > 0 })
	st := g.Stats()
	assert.Equal(t, bound, callOn(t, c1, session), "the binding survives the policy's rebuild")
	resetCalls(ss)
	for range 20 {
		callOn(t, c1, "")
	}
	assert.Zero(t, ss[1].calls.Load(), "the ejection survives the policy's rebuild")
	assert.Equal(t, st.Requests+21, g.Stats().Requests, "counted in the same group")
	assert.Zero(t, g.Stats().RepeatedDone)
}

// A user's explicit choice wins over the resolver's service config: a
// default service config that selects elb (here with a hashKey) is used
// as it is, and grpc.WithDisableServiceConfig keeps a policy of the
// user's own (here gRPC's round_robin, which leaves the group alone).
func TestExplicitServiceConfigWins(t *testing.T) {
	ss := startServers(t, 3)
	reg, g := newGroup(t, group.Config{Algorithm: balancer.NameConsistentHash},
		group.Backend{Addr: ss[0].addr}, group.Backend{Addr: ss[1].addr}, group.Backend{Addr: ss[2].addr})
	target := "elb:///" + g.Name()

	// The resolver's own config: no hashKey, so consistent_hash has no key
	// and spreads the calls.
	_, c := open(t, target, g, grpcgroup.WithRegistry(reg))
	// (The calls hash over the connections up so far: wait for them to
	// spread.)
	servers := map[string]bool{}
	eventually(t, nil, "the calls of s1 to spread without the user's hashKey", func() bool {
		servers[callOn(t, c, "s1")] = true
		return len(servers) > 1
	})

	// The user's: hashKey x-session keys the hash.
	_, c = open(t, target, g, grpcgroup.WithRegistry(reg),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig": [{"elb": {"hashKey": "x-session"}}]}`))
	// While the channel's connections come up, the key hashes over those
	// up: wait for ten calls in a row on one server, then check thirty.
	last, run := "", 0
	eventually(t, nil, "the channel to connect to every server", func() bool {
		if a := callOn(t, c, "s1"); a == last {
			run++
		} else {
			last, run = a, 1
		}
		return run >= 10
	})
	servers = map[string]bool{}
	for range 30 {
		servers[callOn(t, c, "s1")] = true
	}
	assert.Len(t, servers, 1, "the user's hashKey keys every call of s1 to one server")

	// gRPC's own round_robin, kept by WithDisableServiceConfig: the group
	// sees none of its calls.
	cc, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()), grpcgroup.WithRegistry(reg),
		grpc.WithDisableServiceConfig(), grpc.WithDefaultServiceConfig(`{"loadBalancingConfig": [{"round_robin": {}}]}`))
	require.NoError(t, err)
	defer cc.Close()
	rr := testgrpc.NewTestServiceClient(cc)
	resetCalls(ss) // warmUp waits for calls of this channel on every server
	warmUp(t, rr, ss)
	before := g.Stats().Requests
	for range 30 {
		callOn(t, rr, "s1")
	}
	for _, k := range calls(ss) {
		assert.GreaterOrEqual(t, k, int64(5), "gRPC's round_robin: %v", calls(ss))
	}
	assert.Equal(t, before, g.Stats().Requests, "not the elb policy: the group counts nothing")
}

// RetryIdempotent validates the method names; a bad one fails the
// channel's calls with ErrInvalidMethod.
func TestRetryIdempotentNames(t *testing.T) {
	ss := startServers(t, 1)
	reg, g := newGroup(t, group.Config{}, group.Backend{Addr: ss[0].addr})
	for _, bad := range []string{"", "/", "a/b/c", "pkg.Svc/M ", "pkg Svc"} {
		cc, err := grpc.NewClient("elb:///"+g.Name(), grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpcgroup.WithRegistry(reg, grpcgroup.RetryIdempotent("ok.Svc/M", bad)))
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err = testgrpc.NewTestServiceClient(cc).EmptyCall(ctx, &testgrpc.Empty{})
		cancel()
		cc.Close()
		require.Error(t, err, "%q", bad)
		assert.Contains(t, err.Error(), grpcgroup.ErrInvalidMethod.Error(), "%q", bad)
	}
	for _, good := range []string{"pkg.Svc/M", "/pkg.Svc/M", "pkg.Svc", "pkg.Svc/"} {
		cc, err := grpc.NewClient("elb:///"+g.Name(), grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpcgroup.WithRegistry(reg, grpcgroup.RetryIdempotent(good)))
		require.NoError(t, err)
		require.NoError(t, call(context.Background(), testgrpc.NewTestServiceClient(cc)), "%q", good)
		cc.Close()
	}
}

// Under elb:///, the policy's group settings are ignored: the registry
// group's algorithm (round_robin here, not the config's random) balances.
func TestPolicyGroupSettingsIgnoredUnderElb(t *testing.T) {
	ss := startServers(t, 3)
	reg, g := newGroup(t, group.Config{Algorithm: balancer.NameRoundRobin},
		group.Backend{Addr: ss[0].addr}, group.Backend{Addr: ss[1].addr}, group.Backend{Addr: ss[2].addr})
	_, c := open(t, "elb:///"+g.Name(), g, grpcgroup.WithRegistry(reg),
		grpc.WithDefaultServiceConfig(policy(`{"algorithm": "random", "outlier": {"consecutiveFailures": 1}}`)))
	warmUp(t, c, ss)
	// Once every connection is up the channel shares the group's
	// rotation: exact thirds, three rounds in a row (random would make
	// one in 70 at best).
	exact := 0
	eventually(t, nil, "an exact rotation", func() bool {
		resetCalls(ss)
		for range 30 {
			callOn(t, c, "")
		}
		if k := calls(ss); k[0] == 10 && k[1] == 10 && k[2] == 10 {
			exact++
		} else {
			exact = 0
		}
		return exact == 3
	})
	assert.Equal(t, balancer.NameRoundRobin, g.Algorithm())
	assert.Empty(t, grpcgroup.Channels.Groups())
}
