package grpcgroup_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A call whose trailer carries grpc-retry-pushback-ms benches its server:
// the load-aware algorithms send it no call for that long while the
// others can take them.
func TestPushbackBenchesTheServer(t *testing.T) {
	for _, alg := range []string{"peak_ewma", "least_request", "weighted_least_connections"} {
		t.Run(alg, func(t *testing.T) {
			ss := startServers(t, 3)
			c := dial(t, "passthrough:///pushback-"+alg, `{"algorithm": "`+alg+`"}`, grpc.WithResolvers(manualResolver(t, ss)))
			warmUp(t, c, ss)
			v := "30000"
			ss[0].pushback.Store(&v)
			// peak_ewma with three choices of three sends nothing to the
			// slowest server until its estimate has faded (its 3 s decay),
			// which a slow warm-up call on a loaded machine can make it.
			deadline := time.Now().Add(15 * time.Second)
			for i := 0; ss[0].pushback.Load() != nil; i++ {
				require.True(t, i < 200000 && time.Now().Before(deadline), "the server never got the call that pushes back (%d calls)", i)
				if err := call(context.Background(), c); err != nil {
					require.Equal(t, codes.ResourceExhausted, status.Code(err), err)
				}
			}
			resetCalls(ss)
			for range 60 {
				require.NoError(t, call(context.Background(), c))
			}
			assert.Zero(t, ss[0].calls.Load(), "calls to the server that pushed back: %v", calls(ss))
		})
	}
}
