package grpcgroup_test

import (
	"context"
	"testing"

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
			for i := 0; ss[0].pushback.Load() != nil; i++ {
				require.Less(t, i, 300, "the server never got the call that pushes back")
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
