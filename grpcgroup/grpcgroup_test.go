package grpcgroup_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"

	"github.com/go-elb/elb"
	"github.com/go-elb/elb/balancer"
	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/grpcgroup"
	"github.com/go-elb/elb/health"
)

// policy returns a service config selecting the elb policy with cfg.
func policy(cfg string) string {
	return `{"loadBalancingConfig": [{"elb": ` + cfg + `}]}`
}

// dial opens a channel to target with the elb policy configured by cfg.
func dial(t testing.TB, target, cfg string, opts ...grpc.DialOption) testgrpc.TestServiceClient {
	t.Helper()
	opts = append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(policy(cfg)),
	}, opts...)
	cc, err := grpc.NewClient(target, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { cc.Close() })
	return testgrpc.NewTestServiceClient(cc)
}

// newGroup registers a group named after the test in a new registry.
func newGroup(t testing.TB, cfg group.Config, bs ...group.Backend) (*group.Registry, *group.Group) {
	t.Helper()
	reg := new(group.Registry)
	cfg.Registry = reg
	if cfg.Name == "" {
		cfg.Name = strings.ReplaceAll(t.Name(), "/", "-")
	}
	g, err := group.New(cfg)
	require.NoError(t, err)
	require.NoError(t, g.Add(bs...))
	t.Cleanup(func() { g.Close(context.Background()) })
	return reg, g
}

// call makes one EmptyCall that waits for a ready endpoint.
func call(ctx context.Context, c testgrpc.TestServiceClient, opts ...grpc.CallOption) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := c.EmptyCall(ctx, &testgrpc.Empty{}, append([]grpc.CallOption{grpc.WaitForReady(true)}, opts...)...)
	return err
}

// eventually calls until cond holds, failing the test after 10s.
func eventually(t testing.TB, c testgrpc.TestServiceClient, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		if c != nil {
			_ = call(context.Background(), c)
		} else {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// warmUp calls until every server has served a call, then zeroes the
// counts.
func warmUp(t testing.TB, c testgrpc.TestServiceClient, ss []*server) {
	t.Helper()
	eventually(t, c, "every server to serve a call", func() bool {
		for _, s := range ss {
			if s.calls.Load() == 0 {
				return false
			}
		}
		return true
	})
	resetCalls(ss)
}

// channelGroup returns the group of the channel whose group name starts
// with prefix#.
func channelGroup(t testing.TB, prefix string) *group.Group {
	t.Helper()
	for _, g := range grpcgroup.Channels.Groups() {
		if strings.HasPrefix(g.Name(), prefix+"#") {
			return g
		}
	}
	t.Fatalf("no channel group named %s#N in %v", prefix, names(grpcgroup.Channels.Groups()))
	return nil
}

func names(gs []*group.Group) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.Name())
	}
	return out
}

func stateOf(g *group.Group, addr string) health.State {
	for _, b := range g.Stats().Backends {
		if b.Addr == addr {
			return b.State
		}
	}
	return health.Unknown
}

func TestWeightsThroughRealCalls(t *testing.T) {
	ss := startServers(t, 3)
	reg, _ := newGroup(t, group.Config{Algorithm: "weighted_round_robin"},
		group.Backend{Addr: ss[0].addr, Weight: group.Weight(1)},
		group.Backend{Addr: ss[1].addr, Weight: group.Weight(2)},
		group.Backend{Addr: ss[2].addr, Weight: group.Weight(3)})
	c := dial(t, "elb:///TestWeightsThroughRealCalls", `{}`, grpcgroup.WithRegistry(reg))
	warmUp(t, c, ss)
	const n = 1200
	for range n {
		require.NoError(t, call(context.Background(), c))
	}
	got := calls(ss)
	for i, w := range []float64{1, 2, 3} {
		want := n * w / 6
		assert.InDelta(t, want, float64(got[i]), want*0.05, "server %d (weight %v): %v", i, w, got)
	}
}

func TestResolverPushesWeightChanges(t *testing.T) {
	ss := startServers(t, 2)
	reg, g := newGroup(t, group.Config{Algorithm: "weighted_round_robin"},
		group.Backend{ID: "a", Addr: ss[0].addr, Weight: group.Weight(1), Zone: "az1"},
		group.Backend{ID: "b", Addr: ss[1].addr, Weight: group.Weight(1), Zone: "az2"})
	c := dial(t, "elb:///TestResolverPushesWeightChanges", `{}`, grpcgroup.WithRegistry(reg))
	warmUp(t, c, ss)
	assert.Empty(t, grpcgroup.Channels.Groups(), "the channel picks from the registry's group: no group of its own")
	st := g.Stats()
	assert.GreaterOrEqual(t, st.Requests, uint64(2), "the registry group counts the channel's calls")

	require.NoError(t, g.Update(group.Backend{ID: "b", Addr: ss[1].addr, Weight: group.Weight(0)}))
	resetCalls(ss)
	for range 50 {
		require.NoError(t, call(context.Background(), c))
	}
	assert.Equal(t, []int64{50, 0}, calls(ss), "weight 0 takes no calls")

	s3 := startServer(t, "127.0.0.1:0")
	require.NoError(t, g.Add(group.Backend{ID: "c", Addr: s3.addr, Weight: group.Weight(1)}))
	eventually(t, c, "the new member to serve", func() bool { return s3.calls.Load() > 0 })

	require.NoError(t, g.Remove("a"))
	resetCalls(ss)
	for range 20 {
		require.NoError(t, call(context.Background(), c))
	}
	assert.Zero(t, ss[0].calls.Load(), "a removed member takes no calls")
}

func TestNotServingTakesNoCalls(t *testing.T) {
	ss := startServers(t, 2)
	ss[1].setServing(false)
	// Health on in elb's config is all it takes: no blank import of
	// google.golang.org/grpc/health, no healthCheckConfig.
	c := dial(t, "passthrough:///unused", `{"health": {"interval": "1s", "healthyThreshold": 1, "unhealthyThreshold": 1}}`,
		grpc.WithResolvers(manualResolver(t, ss)))
	for range 50 {
		require.NoError(t, call(context.Background(), c))
	}
	assert.Equal(t, []int64{50, 0}, calls(ss), "a NOT_SERVING server takes no calls")

	ss[1].setServing(true)
	ss[0].setServing(false)
	eventually(t, c, "the health change to move the calls", func() bool { return ss[1].calls.Load() > 0 })
	eventually(t, nil, "server 0 to be unhealthy", func() bool {
		return stateOf(channelGroup(t, "unused"), ss[0].addr) == health.Unhealthy
	})
	resetCalls(ss)
	for range 50 {
		require.NoError(t, call(context.Background(), c))
	}
	assert.Equal(t, []int64{0, 50}, calls(ss))
	cg := channelGroup(t, "unused")
	for _, b := range cg.Stats().Backends {
		if b.Addr == ss[0].addr {
			assert.Contains(t, b.LastError, "NOT_SERVING")
		}
	}
}

func TestHealthServiceMissingFailsLoudly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	s := &server{}
	testgrpc.RegisterTestServiceServer(srv, s) // no health service
	go srv.Serve(ln)
	defer srv.Stop()
	c := dial(t, "passthrough:///"+ln.Addr().String(), `{"health": {"interval": "1s", "healthyThreshold": 1}}`)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err = c.EmptyCall(ctx, &testgrpc.Empty{})
	require.Error(t, err)
	cg := channelGroup(t, ln.Addr().String())
	eventually(t, nil, "the failed check", func() bool { return cg.Stats().Backends[0].LastError != "" })
	assert.Contains(t, cg.Stats().Backends[0].LastError, "does not implement grpc.health.v1")
	assert.Zero(t, s.calls.Load())
}

// manualResolver resolves to ss, as a resolver other than elb's would:
// plain endpoints with no attributes.
func manualResolver(t testing.TB, ss []*server) *manual.Resolver {
	r := manual.NewBuilderWithScheme("passthrough")
	var eps []resolver.Endpoint
	for _, a := range addrs(ss) {
		eps = append(eps, resolver.Endpoint{Addresses: []resolver.Address{{Addr: a}}})
	}
	r.InitialState(resolver.State{Endpoints: eps})
	return r
}

func TestOtherResolvers(t *testing.T) {
	ss := startServers(t, 3)
	c := dial(t, "passthrough:///spread", `{"algorithm": "round_robin"}`, grpc.WithResolvers(manualResolver(t, ss)))
	warmUp(t, c, ss)
	for range 300 {
		require.NoError(t, call(context.Background(), c))
	}
	assert.Equal(t, []int64{100, 100, 100}, calls(ss))

	d := dial(t, "dns:///"+ss[0].addr, `{"algorithm": "least_request"}`)
	require.NoError(t, call(context.Background(), d))
	cg := channelGroup(t, ss[0].addr)
	assert.Equal(t, "least_request", cg.Algorithm())
	assert.Equal(t, uint64(1), cg.Stats().Requests)
}

func TestMetadataAffinity(t *testing.T) {
	ss := startServers(t, 3)
	c := dial(t, "passthrough:///sticky", `{"sticky": {"metadataKey": "X-Session"}}`, grpc.WithResolvers(manualResolver(t, ss)))
	warmUp(t, c, ss)
	const keys, per = 30, 10
	for k := range keys {
		ctx := metadata.AppendToOutgoingContext(context.Background(), "x-session", fmt.Sprint("user-", k))
		for range per {
			require.NoError(t, call(ctx, c))
		}
	}
	used := 0
	for k := range keys {
		key := fmt.Sprint("user-", k)
		servedBy := 0
		for _, s := range ss {
			if n := s.session(key); n > 0 {
				servedBy++
				assert.Equal(t, per, n, "key %s", key)
			}
		}
		assert.Equal(t, 1, servedBy, "key %s went to one server", key)
	}
	for _, n := range calls(ss) {
		if n > 0 {
			used++
		}
	}
	assert.Equal(t, 3, used, "different keys spread over the servers")
	st := channelGroup(t, "sticky").Stats()
	require.NotNil(t, st.Sticky)
	assert.Equal(t, uint64(keys*(per-1)), st.Sticky.Hits)
}

func TestFailuresFeedOutlierDetection(t *testing.T) {
	ss := startServers(t, 2)
	ss[1].fail.Store(true)
	c := dial(t, "passthrough:///outlier", `{"algorithm": "round_robin", "outlier": {"consecutiveFailures": 3, "maxEjectionPercent": 50}}`,
		grpc.WithResolvers(manualResolver(t, ss)))
	_ = call(context.Background(), c) // builds the channel's group
	eventually(t, c, "the failing server to be ejected", func() bool {
		return stateOf(channelGroup(t, "outlier"), ss[1].addr) == health.Ejected
	})
	resetCalls(ss)
	for range 30 {
		require.NoError(t, call(context.Background(), c))
	}
	assert.Equal(t, []int64{30, 0}, calls(ss))
	st := channelGroup(t, "outlier").Stats()
	for _, b := range st.Backends {
		if b.Addr == ss[1].addr {
			assert.GreaterOrEqual(t, b.Failures, uint64(3), "UNAVAILABLE counts as a failure")
		} else {
			assert.Zero(t, b.Failures)
		}
	}
}

func TestFailureCodesConfigurable(t *testing.T) {
	ss := startServers(t, 1)
	ss[0].fail.Store(true)
	c := dial(t, "passthrough:///codes", `{"failureCodes": ["INTERNAL"]}`, grpc.WithResolvers(manualResolver(t, ss)))
	for range 5 {
		assert.Equal(t, codes.Unavailable, status.Code(call(context.Background(), c)))
	}
	st := channelGroup(t, "codes").Stats()
	assert.Equal(t, uint64(5), st.Requests)
	assert.Zero(t, st.Failures, "UNAVAILABLE is not in failureCodes")
}

func TestNoReadyEndpointQueuesOrFailsFast(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close() // nothing listens: connections fail
	c := dial(t, "passthrough:///"+addr, `{}`)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = c.EmptyCall(ctx, &testgrpc.Empty{})
	assert.Equal(t, codes.Unavailable, status.Code(err), "fail-fast: %v", err)

	short, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	_, err = c.EmptyCall(short, &testgrpc.Empty{}, grpc.WaitForReady(true))
	assert.Equal(t, codes.DeadlineExceeded, status.Code(err), "wait-for-ready queues: %v", err)

	errc := make(chan error, 1)
	go func() { errc <- call(context.Background(), c) }()
	time.Sleep(100 * time.Millisecond)
	s := startServer(t, addr)
	require.NoError(t, <-errc, "a queued wait-for-ready call goes out once the server is up")
	assert.Equal(t, int64(1), s.calls.Load())
}

func TestMalformedConfigFailsNewClient(t *testing.T) {
	for cfg, want := range map[string]string{
		`{"algorithm": "fastest"}`:                             `algorithm: unknown load-balancing algorithm "fastest"`,
		`{"algoritm": "round_robin"}`:                          "algoritm: unknown field",
		`{"panicThreshold": 101}`:                              "panicThreshold: 101 must be a percentage 0-100",
		`{"health": {"interval": "100ms"}}`:                    "health.interval: 100ms must be 1s-50s",
		`{"health": {"interval": 5}}`:                          `health.interval: 5 is not a duration such as "5s"`,
		`{"health": {"interval": "5 s"}}`:                      `health.interval: "5 s" is not a duration`,
		`{"health": {"healthyThreshold": "3"}}`:                "health.healthyThreshold: a JSON string cannot be a int",
		`[]`:                                                   "must be a JSON object, not a JSON array",
		`{"sticky": {}}`:                                       "sticky.metadataKey: a header or metadata key is required",
		`{"failureCodes": ["NOPE"]}`:                           `failureCodes[0]: "NOPE" is not a status code`,
		`{"health": {"intervl": "1s"}}`:                        "health.intervl: unknown field",
		`{"algorithm": {"least_request": {"choiceCount": 1}}}`: "algorithm.least_request.choiceCount: 1 must be 2-10",
		`{"outlier": {"consecutiveFailures": -1}}`:             "outlier.consecutiveFailures: -1",
		`{"slowStart": {"window": "1s"}}`:                      "slowStart.window: 1s must be 30s-1200s",
	} {
		_, err := grpc.NewClient("passthrough:///127.0.0.1:1",
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultServiceConfig(policy(cfg)))
		require.Error(t, err, cfg)
		assert.Contains(t, err.Error(), want, cfg)
		_, perr := grpcgroup.ParseConfig([]byte(cfg))
		assert.True(t, errors.Is(perr, elb.ErrInvalidConfig), "%s: %v", cfg, perr)
	}
}

func TestParseConfig(t *testing.T) {
	c, err := grpcgroup.ParseConfig([]byte(`{"algorithm": "least_request", "hashKey": "X-User",
		"sticky": {"metadataKey": "x-session", "ttl": "30m"}, "localZone": "az1", "panicThreshold": 50,
		"health": {"service": "orders", "interval": "2s", "timeout": "1s", "healthyThreshold": 2},
		"outlier": {"consecutiveFailures": 3}, "slowStart": {"window": "60s"},
		"failureCodes": ["unavailable", "INTERNAL"], "drainTimeout": "10s"}`))
	require.NoError(t, err)
	assert.Equal(t, "least_request", c.Algorithm)
	assert.Equal(t, "x-user", c.HashKey, "metadata keys are lowercased")
	assert.Equal(t, grpcgroup.Duration(30*time.Minute), c.Sticky.TTL)
	assert.Equal(t, grpcgroup.Duration(2*time.Second), c.Health.Interval)
	assert.Equal(t, grpcgroup.Duration(10*time.Second), c.DrainTimeout)

	_, err = grpcgroup.ParseConfig([]byte(`{"outlier": {"maxEjectionPercent": 101}}`))
	assert.ErrorIs(t, err, elb.ErrInvalidConfig)
	assert.EqualError(t, err, "elb: outlier.maxEjectionPercent: 101 must be 1-100")
	_, err = grpcgroup.ParseConfig([]byte(`{"algorithm": "nope"}`))
	assert.ErrorIs(t, err, balancer.ErrUnknownAlgorithm)

	_, err = grpcgroup.ParseConfig([]byte(`{"algorithm": "round_robin"} {}`))
	assert.EqualError(t, err, "elb: has data after its JSON value")
	assert.ErrorIs(t, err, elb.ErrInvalidConfig)
}

func TestResolverErrors(t *testing.T) {
	reg := new(group.Registry)
	c := dial(t, "elb:///nosuch", `{}`, grpcgroup.WithRegistry(reg))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := c.EmptyCall(ctx, &testgrpc.Empty{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `no group "nosuch"`)
}

// A channel whose group is not registered yet waits for it: once the
// group appears, wait-for-ready calls go through, as they do after a group
// is closed and registered anew.
func TestChannelWaitsForItsGroup(t *testing.T) {
	t.Run("elb policy", func(t *testing.T) {
		reg := new(group.Registry)
		testChannelWaitsForItsGroup(t, reg, dial(t, "elb:///late", `{}`, grpcgroup.WithRegistry(reg)))
	})
	t.Run("no service config", func(t *testing.T) {
		reg := new(group.Registry)
		testChannelWaitsForItsGroup(t, reg, open0(t, "elb:///late", grpcgroup.WithRegistry(reg)))
	})
}

func testChannelWaitsForItsGroup(t *testing.T, reg *group.Registry, c testgrpc.TestServiceClient) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := call(ctx, c)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `no group "late"`)

	ss := startServers(t, 1)
	g, err := group.New(group.Config{Name: "late", Registry: reg})
	require.NoError(t, err)
	t.Cleanup(func() { _ = g.Close(context.Background()) })
	require.NoError(t, g.Add(group.Backend{Addr: ss[0].addr}))
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, call(ctx, c, grpc.WaitForReady(true)), "the channel finds its group once it is registered")
	for range 20 {
		require.NoError(t, call(ctx, c))
	}
	assert.Equal(t, uint64(21), g.Stats().Requests, "the group counts every call of the channel")
}

// A call to an empty group fails with the group's own error, the very
// first call of a channel with no service config included (it never meets
// gRPC's pick_first and its "produced zero addresses").
func TestEmptyGroupFailsWithTheGroupsError(t *testing.T) {
	reg, g := newGroup(t, group.Config{})
	for _, c := range []testgrpc.TestServiceClient{
		dial(t, "elb:///"+g.Name(), `{}`, grpcgroup.WithRegistry(reg)),
		open0(t, "elb:///"+g.Name(), grpcgroup.WithRegistry(reg)),
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := c.EmptyCall(ctx, &testgrpc.Empty{})
		cancel()
		require.Error(t, err)
		assert.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
		assert.Contains(t, err.Error(), "no backends")
	}
}

// open0 opens a channel to target with no service config of the user's.
func open0(t testing.TB, target string, opts ...grpc.DialOption) testgrpc.TestServiceClient {
	t.Helper()
	cc, err := grpc.NewClient(target, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { cc.Close() })
	return testgrpc.NewTestServiceClient(cc)
}
