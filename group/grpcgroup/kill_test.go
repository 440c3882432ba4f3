package grpcgroup_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/go-elb/elb/balancer"
	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/group/grpcgroup"
)

// A server stopped in the middle of a run costs 0 failed calls under every
// algorithm and with metadata affinity, as the README promises, when it is
// stopped gracefully with wait-for-ready calls; stopped abruptly with a
// retry policy (maxAttempts 4, UNAVAILABLE retried), only a call the
// stopped server had begun answering may fail, at most one per caller. Calls carry a session key, which
// consistent_hash (hashKey) and the sticky policy use. 1,000 calls from 8
// workers (200 under the race detector), the server stopped at the 250th.
func TestServerStoppedMidRunLosesNoCallUnderEveryAlgorithm(t *testing.T) {
	type policyCase struct{ name, cfg string }
	var policies []policyCase
	for _, alg := range balancer.Names() {
		policies = append(policies, policyCase{alg, `{"algorithm": "` + alg + `", "hashKey": "x-session"}`})
	}
	policies = append(policies, policyCase{"sticky", `{"algorithm": "least_request", "sticky": {"metadataKey": "x-session"}}`})
	for _, pc := range policies {
		for _, graceful := range []bool{true, false} {
			name := pc.name + "/hard stop, retry policy"
			if graceful {
				name = pc.name + "/graceful stop, wait-for-ready"
			}
			t.Run(name, func(t *testing.T) {
				ss := startServers(t, 3)
				sc := `{"loadBalancingConfig": [{"elb": ` + pc.cfg + `}]`
				if !graceful {
					sc += `, "methodConfig": [{"name": [{"service": "grpc.testing.TestService"}], "retryPolicy": {
						"maxAttempts": 4, "initialBackoff": "0.01s", "maxBackoff": "0.1s", "backoffMultiplier": 2,
						"retryableStatusCodes": ["UNAVAILABLE"]}}]`
				}
				sc += `}`
				reg, g := newGroup(t, group.Config{},
					group.Backend{Addr: ss[0].addr}, group.Backend{Addr: ss[1].addr}, group.Backend{Addr: ss[2].addr})
				cc, err := grpc.NewClient("elb:///"+g.Name(),
					grpc.WithTransportCredentials(insecure.NewCredentials()),
					grpc.WithDefaultServiceConfig(sc), grpcgroup.WithRegistry(reg))
				require.NoError(t, err)
				defer cc.Close()
				c := testgrpc.NewTestServiceClient(cc)
				eventually(t, c, "the channel to serve", func() bool { return ss[0].calls.Load()+ss[1].calls.Load()+ss[2].calls.Load() > 0 })

				total, workers, stopAt := int64(1000), 8, int64(250)
				if raceEnabled {
					total, stopAt = 200, 50
				}
				var sent, failed atomic.Int64
				var once sync.Once
				var wg sync.WaitGroup
				for w := range workers {
					wg.Go(func() {
						ctx := metadata.AppendToOutgoingContext(context.Background(), "x-session", fmt.Sprintf("s%d", w))
						for {
							n := sent.Add(1)
							if n > total {
								return
							}
							if n == stopAt {
								once.Do(func() {
									if graceful {
										go ss[0].srv.GracefulStop()
									} else {
										ss[0].srv.Stop()
									}
								})
							}
							var p peer.Peer
							if err := call(ctx, c, grpc.Peer(&p)); err != nil {
								failed.Add(1)
								// A hard stop may cut a response the server
								// had begun: gRPC does not retry a committed
								// call (gRFC A6). Nothing else may fail.
								if graceful || p.Addr == nil || p.Addr.String() != ss[0].addr {
									t.Errorf("call failed on %v: %v", p.Addr, err)
								}
							}
						}
					})
				}
				wg.Wait()
				if graceful {
					assert.Zero(t, failed.Load(), "failed calls")
				} else {
					assert.LessOrEqual(t, failed.Load(), int64(workers), "failed calls: at most the call each caller had on the stopped server")
				}
				assert.GreaterOrEqual(t, ss[0].calls.Load()+ss[1].calls.Load()+ss[2].calls.Load(), int64(total))
				st := channelGroup(t, g.Name()).Stats()
				assert.Zero(t, st.InFlight)
				assert.Zero(t, st.RepeatedDone)
				t.Logf("calls %v; channel group: %d picks, %d failures", calls(ss), st.Requests, st.Failures)
				eventually(t, nil, "the stopped server to leave the pick set", func() bool {
					return channelGroup(t, g.Name()).Stats().Available == 2
				})
			})
		}
	}
}
