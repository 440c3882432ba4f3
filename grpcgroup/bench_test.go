package grpcgroup_test

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// BenchmarkUnary makes unary calls to three loopback servers through
// gRPC's built-in round_robin and through the elb policy, on the same
// servers in the same run: the ratio of the two is elb's cost on a real
// call. "serial" is one call at a time (latency), "parallel" as many as
// RunParallel makes (throughput).
func BenchmarkUnary(b *testing.B) {
	for _, mode := range []string{"serial", "parallel"} {
		b.Run(mode, func(b *testing.B) { benchmarkUnary(b, mode == "parallel") })
	}
}

func benchmarkUnary(b *testing.B, parallel bool) {
	ss := startServers(b, 3)
	for _, tc := range []struct{ name, sc string }{
		{"grpc_round_robin", `{"loadBalancingConfig": [{"round_robin": {}}]}`},
		{"elb_round_robin", policy(`{"algorithm": "round_robin"}`)},
		{"elb_least_request", policy(`{"algorithm": "least_request"}`)},
		{"grpc_round_robin/again", `{"loadBalancingConfig": [{"round_robin": {}}]}`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cc, err := grpc.NewClient("passthrough:///bench",
				grpc.WithTransportCredentials(insecure.NewCredentials()),
				grpc.WithDefaultServiceConfig(tc.sc), grpc.WithResolvers(manualResolver(b, ss)))
			if err != nil {
				b.Fatal(err)
			}
			defer cc.Close()
			c := testgrpc.NewTestServiceClient(cc)
			warmUp(b, c, ss)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			if !parallel {
				for range b.N {
					if _, err := c.EmptyCall(ctx, &testgrpc.Empty{}, grpc.WaitForReady(true)); err != nil {
						b.Fatal(err)
					}
				}
				return
			}
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.EmptyCall(ctx, &testgrpc.Empty{}, grpc.WaitForReady(true)); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
