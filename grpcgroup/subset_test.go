package grpcgroup_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/grpcgroup"
)

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	accepted atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// With subsetting, a channel connects to the subset's members alone and
// sends its calls there; the resolver does not publish the others.
func TestSubsetChannelConnectsToItsMembersOnly(t *testing.T) {
	var ss []*server
	var lns []*countingListener
	var members []group.Backend
	for range 5 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		cl := &countingListener{Listener: ln}
		s := &server{addr: ln.Addr().String(), srv: grpc.NewServer(grpc.WaitForHandlers(true)), sessions: map[string]int{}}
		s.status.Store(int32(healthpb.HealthCheckResponse_SERVING))
		testgrpc.RegisterTestServiceServer(s.srv, s)
		healthpb.RegisterHealthServer(s.srv, s)
		go s.srv.Serve(cl)
		t.Cleanup(s.srv.Stop)
		ss, lns = append(ss, s), append(lns, cl)
		members = append(members, group.Backend{Addr: s.addr})
	}
	reg, g := newGroup(t, group.Config{Subset: &group.SubsetConfig{Size: 2, ClientID: "client-1"}}, members...)
	in := map[string]bool{}
	for _, b := range g.Stats().Backends {
		if !b.OutsideSubset {
			in[b.Addr] = true
		}
	}
	require.Len(t, in, 2)
	c := dial(t, "elb:///TestSubsetChannelConnectsToItsMembersOnly", `{}`, grpcgroup.WithRegistry(reg))
	for range 40 {
		require.NoError(t, call(context.Background(), c))
	}
	for i, s := range ss {
		if in[s.addr] {
			assert.Positive(t, s.calls.Load(), s.addr)
			assert.Positive(t, lns[i].accepted.Load(), s.addr)
		} else {
			assert.Zero(t, s.calls.Load(), "%s is outside the subset", s.addr)
			assert.Zero(t, lns[i].accepted.Load(), "%s is outside the subset: no connection", s.addr)
		}
	}
	assert.Equal(t, 5, g.Len())
}
