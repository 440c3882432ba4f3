package grpcgroup_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/status"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/grpcgroup"
)

// A channel to elb:///NAME whose registry group closes builds no group of
// its own in Channels while it waits for a group registered anew.
func TestClosedRegistryGroupMakesNoChannelGroup(t *testing.T) {
	reg, g := closingGroup(t, "vanishing", startServer(t, "127.0.0.1:0"))
	c := dial(t, "elb:///vanishing", `{}`, grpcgroup.WithRegistry(reg))
	require.NoError(t, call(context.Background(), c))

	require.NoError(t, g.Close(context.Background()))
	eventually(t, nil, "calls to fail once the group is closed", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := c.EmptyCall(ctx, &testgrpc.Empty{})
		return status.Code(err) == codes.Unavailable
	})
	// The resolver pushes the closed group's empty list soon after: watch
	// the channel groups for a while.
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); time.Sleep(time.Millisecond) {
		for _, cg := range grpcgroup.Channels.Groups() {
			require.False(t, strings.HasPrefix(cg.Name(), "vanishing#"), "a channel group %q for an elb:/// channel", cg.Name())
		}
	}
}

// A channel's own group (another resolver) that someone closes is
// replaced by a new one at the resolver's next update: the channel does
// not stay failed on the closed group.
func TestClosedChannelGroupIsReplaced(t *testing.T) {
	ss := startServers(t, 1)
	r := manualResolver(t, ss)
	c := dial(t, "passthrough:///reopened", `{}`, grpc.WithResolvers(r))
	require.NoError(t, call(context.Background(), c))
	cg := channelGroup(t, "reopened")
	require.NoError(t, cg.Close(context.Background()))
	r.UpdateState(resolver.State{Endpoints: []resolver.Endpoint{{Addresses: []resolver.Address{{Addr: ss[0].addr}}}}})
	eventually(t, c, "calls through a new channel group", func() bool {
		for _, g := range grpcgroup.Channels.Groups() {
			if strings.HasPrefix(g.Name(), "reopened#") && g != cg && g.Stats().Requests > 0 {
				return true
			}
		}
		return false
	})
}

// A channel made after its registry group closed says so, when the
// resolver knows the group: under a resolver (Register, or one
// WithRegistry option) that found a group of that name before. A resolver
// that never found one cannot tell a closed group from one not registered
// yet, and says either.
func TestClosedRegistryGroupErrorSaysClosed(t *testing.T) {
	reg, g := closingGroup(t, "gone", startServer(t, "127.0.0.1:0"))
	withReg := grpcgroup.WithRegistry(reg)
	c := open0(t, "elb:///gone", withReg)
	require.NoError(t, call(context.Background(), c))
	require.NoError(t, g.Close(context.Background()))

	failFast := func(c testgrpc.TestServiceClient) error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := c.EmptyCall(ctx, &testgrpc.Empty{})
		return err
	}
	err := failFast(open0(t, "elb:///gone", withReg))
	assert.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
	assert.Contains(t, err.Error(), `the registry's group "gone" is closed`)
	err = failFast(open0(t, "elb:///gone", grpcgroup.WithRegistry(reg)))
	assert.Contains(t, err.Error(), `the registry has no group "gone" (none registered yet, or it was closed)`)
	eventually(t, nil, "the first channel's calls to fail", func() bool { return failFast(c) != nil })
	err = failFast(c)
	t.Log(err)
	assert.Contains(t, err.Error(), "closed")
}

// closingGroup registers a group named name in a new registry, with a
// member on s, for a test that closes it.
func closingGroup(t *testing.T, name string, s *server) (*group.Registry, *group.Group) {
	t.Helper()
	reg := new(group.Registry)
	g, err := group.New(group.Config{Name: name, Registry: reg})
	require.NoError(t, err)
	require.NoError(t, g.Add(group.Backend{Addr: s.addr}))
	return reg, g
}
