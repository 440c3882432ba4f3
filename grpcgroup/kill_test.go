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
	"github.com/go-elb/elb/grpcgroup"
	"github.com/go-elb/elb/sticky"
)

// A server stopped in the middle of a run, with no service config of the
// user's (the resolver supplies one selecting elb), costs 0 failed calls
// under every algorithm and with metadata affinity, as the README
// promises, when it is stopped gracefully with wait-for-ready calls;
// stopped abruptly with RetryIdempotent (the resolver's retry policy: 4
// attempts, UNAVAILABLE retried), only a call the stopped server had begun
// answering may fail, at most one per caller. Without it, the calls in
// flight on the killed server fail: the test logs how many. The registry
// group has the algorithm, and its Stats count every call. Calls carry a
// session key, which consistent_hash (the policy's hashKey) and the sticky
// group (sticky.Header) use. 1,000 calls from 8 workers (200 under the
// race detector), the server stopped at the 250th.
func TestServerStoppedMidRunLosesNoCallUnderEveryAlgorithm(t *testing.T) {
	type groupCase struct {
		name string
		cfg  group.Config
	}
	var cases []groupCase
	for _, alg := range balancer.Names() {
		if alg == balancer.NamePrequal {
			continue // its probes are HTTP, the servers gRPC
		}
		cases = append(cases, groupCase{alg, group.Config{Algorithm: alg}})
	}
	cases = append(cases, groupCase{"sticky", group.Config{Algorithm: balancer.NameLeastRequest,
		Sticky: &sticky.Config{Mode: sticky.Header, Header: "X-Session"}}})
	type stop int
	const (
		graceful stop = iota
		hardRetry
		hardNoRetry
	)
	var mu sync.Mutex
	lost := map[stop][]int64{}
	t.Cleanup(func() {
		t.Logf("failed calls per kill, hard stop: with RetryIdempotent %v, without %v", lost[hardRetry], lost[hardNoRetry])
	})
	for _, gc := range cases {
		for _, how := range []stop{graceful, hardRetry, hardNoRetry} {
			name := gc.name + []string{"/graceful stop, wait-for-ready", "/hard stop, RetryIdempotent", "/hard stop, no retry"}[how]
			t.Run(name, func(t *testing.T) {
				ss := startServers(t, 3)
				reg, g := newGroup(t, gc.cfg,
					group.Backend{Addr: ss[0].addr}, group.Backend{Addr: ss[1].addr}, group.Backend{Addr: ss[2].addr})
				opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
				switch {
				case how == hardRetry:
					opts = append(opts, grpcgroup.WithRegistry(reg, grpcgroup.RetryIdempotent("grpc.testing.TestService")))
				default:
					opts = append(opts, grpcgroup.WithRegistry(reg))
				}
				if gc.cfg.Algorithm == balancer.NameConsistentHash {
					// The hash key is the channel's choice: an explicit
					// config, which the resolver's gives way to.
					sc := `{"loadBalancingConfig": [{"elb": {"hashKey": "x-session"}}]`
					if how == hardRetry {
						sc += `, "methodConfig": [{"name": [{"service": "grpc.testing.TestService"}], "retryPolicy": {
							"maxAttempts": 4, "initialBackoff": "0.01s", "maxBackoff": "0.1s", "backoffMultiplier": 2,
							"retryableStatusCodes": ["UNAVAILABLE"]}}]`
					}
					opts = append(opts, grpc.WithDefaultServiceConfig(sc+`}`))
				}
				cc, err := grpc.NewClient("elb:///"+g.Name(), opts...)
				require.NoError(t, err)
				defer cc.Close()
				c := testgrpc.NewTestServiceClient(cc)
				// Wait until the channel is up, so that the kill comes mid-run.
				eventually(t, c, "the channel to pick from the group", func() bool { return g.Stats().Requests > 0 })
				before := g.Stats().Requests

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
									if how == graceful {
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
								if how == graceful || how == hardRetry && (p.Addr == nil || p.Addr.String() != ss[0].addr) {
									t.Errorf("call failed on %v: %v", p.Addr, err)
								}
							}
						}
					})
				}
				wg.Wait()
				switch how {
				case graceful:
					assert.Zero(t, failed.Load(), "failed calls")
				case hardRetry:
					assert.LessOrEqual(t, failed.Load(), int64(workers), "failed calls: at most the call each caller had on the stopped server")
				}
				mu.Lock()
				lost[how] = append(lost[how], failed.Load())
				mu.Unlock()
				assert.GreaterOrEqual(t, ss[0].calls.Load()+ss[1].calls.Load()+ss[2].calls.Load(), total-failed.Load())
				st := g.Stats()
				assert.Zero(t, st.InFlight)
				assert.Zero(t, st.RepeatedDone)
				assert.GreaterOrEqual(t, st.Requests-before, uint64(total), "the registry group counts every call")
				t.Logf("calls %v, %d failed; group: %d picks, %d failures", calls(ss), failed.Load(), st.Requests, st.Failures)
				assert.Empty(t, grpcgroup.Channels.Groups(), "no channel group under elb:///")
			})
		}
	}
}
