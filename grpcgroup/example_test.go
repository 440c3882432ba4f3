package grpcgroup_test

import (
	"context"
	"fmt"
	"log"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/grpcgroup"
)

// exampleServer counts the calls it serves.
type exampleServer struct {
	testgrpc.UnimplementedTestServiceServer
	calls int
}

func (s *exampleServer) EmptyCall(context.Context, *testgrpc.Empty) (*testgrpc.Empty, error) {
	s.calls++
	return &testgrpc.Empty{}, nil
}

// A channel to elb:///orders picks from the group "orders" of a registry
// itself: the group's algorithm balances the calls, and its Stats count
// them, with those of every other channel, HTTP client and direct Pick of
// the group. No service config is needed: the resolver supplies one that
// selects the "elb" policy.
func Example() {
	// Two servers on loopback, weights 3 and 1.
	var servers [2]exampleServer
	var reg group.Registry
	g, err := group.New(group.Config{Name: "orders", Registry: &reg, Algorithm: "weighted_round_robin"})
	if err != nil {
		log.Fatal(err)
	}
	defer g.Close(context.Background())
	for i, w := range []int{3, 1} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		srv := grpc.NewServer()
		testgrpc.RegisterTestServiceServer(srv, &servers[i])
		go srv.Serve(ln)
		defer srv.Stop()
		if err := g.Add(group.Backend{ID: fmt.Sprint("s", i), Addr: ln.Addr().String(), Weight: group.Weight(w)}); err != nil {
			log.Fatal(err)
		}
	}

	cc, err := grpc.NewClient("elb:///orders",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpcgroup.WithRegistry(&reg))
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Close()
	client := testgrpc.NewTestServiceClient(cc)

	// Wait until the channel has reached both servers, then count 400
	// calls.
	for servers[0].calls == 0 || servers[1].calls == 0 {
		if _, err := client.EmptyCall(context.Background(), &testgrpc.Empty{}, grpc.WaitForReady(true)); err != nil {
			log.Fatal(err)
		}
	}
	servers[0].calls, servers[1].calls = 0, 0
	before := g.Stats().Requests
	for range 400 {
		if _, err := client.EmptyCall(context.Background(), &testgrpc.Empty{}); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("s0 (weight 3):", servers[0].calls)
	fmt.Println("s1 (weight 1):", servers[1].calls)
	fmt.Println("counted in group orders:", g.Stats().Requests-before)
	// Output:
	// s0 (weight 3): 300
	// s1 (weight 1): 100
	// counted in group orders: 400
}

// ParseConfig is what gRPC calls when a channel is created: a mistake in
// the policy's config fails grpc.NewClient with its message.
func ExampleParseConfig() {
	_, err := grpc.NewClient("passthrough:///127.0.0.1:8080",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig": [{"elb": {"algorithm": "least_requests"}}]}`))
	fmt.Println(err != nil)

	_, err = grpcgroup.ParseConfig([]byte(`{"health": {"interval": "100ms"}}`))
	fmt.Println(err)
	_, err = grpcgroup.ParseConfig([]byte(`{"health": {"intervl": "1s"}}`))
	fmt.Println(err)
	_, err = grpcgroup.ParseConfig([]byte(`{"algorithm": {"least_request": {"choiceCount": 1}}}`))
	fmt.Println(err)
	// Output:
	// true
	// elb: health.interval: 100ms must be 1s-50s
	// elb: health.intervl: unknown field
	// elb: algorithm.least_request.choiceCount: 1 must be 2-10
}
