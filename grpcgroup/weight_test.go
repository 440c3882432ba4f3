package grpcgroup_test

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/serviceconfig"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/grpcgroup"
)

// stateRecorder is a resolver.ClientConn that keeps the last state.
type stateRecorder struct {
	resolver.ClientConn // not called but for the methods below
	mu                  sync.Mutex
	last                *resolver.State
}

func (c *stateRecorder) UpdateState(s resolver.State) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last = &s
	return nil
}

func (c *stateRecorder) ReportError(error) {}

func (c *stateRecorder) ParseServiceConfig(string) *serviceconfig.ParseResult {
	return &serviceconfig.ParseResult{}
}

// TestEndpointInfoWeights checks that the elb resolver gives each member's
// weight as the group resolves it: 0-100, the default as 1, 0 as 0.
func TestEndpointInfoWeights(t *testing.T) {
	reg := new(group.Registry)
	g, err := group.New(group.Config{Name: "weights", Registry: reg})
	require.NoError(t, err)
	t.Cleanup(func() { _ = g.Close(context.Background()) })
	want := map[string]int{}
	for i, w := range []*int{nil, group.Weight(0), group.Weight(1), group.Weight(50), group.Weight(100)} {
		id := fmt.Sprint("b", i)
		require.NoError(t, g.Add(group.Backend{ID: id, Addr: fmt.Sprintf("10.0.0.%d:80", i+1), Weight: w}))
		want[id] = *g.Backends()[i].Weight
	}
	require.Equal(t, map[string]int{"b0": 1, "b1": 0, "b2": 1, "b3": 50, "b4": 100}, want)

	cc := &stateRecorder{}
	r, err := grpcgroup.NewResolver(reg).Build(resolver.Target{URL: url.URL{Scheme: grpcgroup.Scheme, Path: "/weights"}}, cc, resolver.BuildOptions{})
	require.NoError(t, err)
	defer r.Close()
	got := map[string]int{}
	for deadline := time.Now().Add(10 * time.Second); len(got) < len(want) && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		cc.mu.Lock()
		if cc.last != nil {
			for _, ep := range cc.last.Endpoints {
				info, ok := grpcgroup.GetEndpointInfo(ep)
				require.True(t, ok)
				got[info.ID] = info.Weight
			}
		}
		cc.mu.Unlock()
	}
	require.Equal(t, want, got)
}
