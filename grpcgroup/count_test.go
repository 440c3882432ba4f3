package grpcgroup_test

import (
	"context"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/grpcgroup"
)

// coldRun is one newcomer's day-one program: fresh servers with weights
// 3/2/1, a fresh channel to elb:///orders with no service config of the
// user's, and n serial calls from the moment the channel is made (no
// warm-up). It returns what the group counted, what the servers served
// and how many connections the channel dialed to each.
func coldRun(t *testing.T, n int) (st group.Stats, served, dials []int64) {
	t.Helper()
	ss := startServers(t, 3)
	reg, g := newGroup(t, group.Config{Name: "orders", Algorithm: "weighted_round_robin"},
		group.Backend{ID: "a", Addr: ss[0].addr, Weight: group.Weight(3)},
		group.Backend{ID: "b", Addr: ss[1].addr, Weight: group.Weight(2)},
		group.Backend{ID: "c", Addr: ss[2].addr, Weight: group.Weight(1)})
	var mu sync.Mutex
	dialed := make(map[string]int64)
	dialer := grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
		mu.Lock()
		dialed[addr]++
		mu.Unlock()
		return new(net.Dialer).DialContext(ctx, "tcp", addr)
	})
	cc, err := grpc.NewClient("elb:///orders", grpc.WithTransportCredentials(insecure.NewCredentials()), grpcgroup.WithRegistry(reg), dialer)
	require.NoError(t, err)
	c := testgrpc.NewTestServiceClient(cc)
	for i := range n {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := c.EmptyCall(ctx, &testgrpc.Empty{})
		cancel()
		require.NoError(t, err, "call %d", i)
	}
	require.NoError(t, cc.Close())
	mu.Lock()
	defer mu.Unlock()
	for _, s := range ss {
		dials = append(dials, dialed[s.addr])
	}
	return g.Stats(), calls(ss), dials
}

// Every call a fresh channel makes is counted in its group's Stats, the
// first ones, made while the channel connects, included: as many requests
// as the servers served, per backend, and no failure. No policy but elb
// ever connects (the channel starts on pick_first until the resolver's
// service config replaces it): one connection per server, the elb
// policy's. A call that went around the group (by pick_first, to the first
// server, in the moment before the switch) was rare, 1 run in 17-100 of
// 600 calls on 2 cores, but the extra connection to the first server that
// made it possible was in most runs. ELB_COLD_RUNS sets the number of
// runs (default 3, 1 under -short or -race); 30 or more to look for the
// rare miscount.
func TestColdChannelCountsEveryCall(t *testing.T) {
	runs := 3
	if testing.Short() || raceEnabled {
		runs = 1
	}
	if s := os.Getenv("ELB_COLD_RUNS"); s != "" {
		var err error
		runs, err = strconv.Atoi(s)
		require.NoError(t, err, "ELB_COLD_RUNS")
	}
	const n = 600
	for r := range runs {
		st, served, dials := coldRun(t, n)
		var perBackend []int64
		for _, b := range st.Backends {
			perBackend = append(perBackend, int64(b.Requests))
		}
		t.Logf("run %d: requests %d, failures %d, per backend %v, served %v, connections %v", r, st.Requests, st.Failures, perBackend, served, dials)
		require.Equal(t, []int64{1, 1, 1}, dials, "run %d: connections dialed to each server", r)
		require.Equal(t, uint64(n), st.Requests, "run %d: the group's count of %d calls (served %v)", r, n, served)
		require.Zero(t, st.Failures, "run %d", r)
		require.Equal(t, served, perBackend, "run %d: each backend's count is what its server served", r)
	}
}
