// Command quickstart-grpc is the day-one gRPC program: a channel to
// elb:///orders over three local gRPC servers, with no service config at all,
// written from the README alone.
//
//	go run ./examples/quickstart-grpc
//
// It starts three gRPC servers on 127.0.0.1, puts them in the group "orders"
// of a registry, registers the elb resolver for that registry, and sends unary
// calls at once. The resolver's default service config selects the elb policy
// (weighted round robin by default), so the calls spread over the three
// servers. It prints where they went and exits 1 if any call failed or a
// server got less than half its even share.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/grpcgroup"
)

const calls = 300

// server is a gRPC test service that counts the calls it serves.
type server struct {
	testgrpc.UnimplementedTestServiceServer
	calls atomic.Int64
}

func (s *server) EmptyCall(context.Context, *testgrpc.Empty) (*testgrpc.Empty, error) {
	s.calls.Add(1)
	return &testgrpc.Empty{}, nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart-grpc:", err)
		os.Exit(1)
	}
}

func run() error {
	var reg group.Registry
	g, err := group.New(group.Config{Name: "orders", Registry: &reg})
	if err != nil {
		return err
	}
	defer g.Close(context.Background())

	servers := make([]*server, 3)
	for i := range servers {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		servers[i] = &server{}
		srv := grpc.NewServer()
		testgrpc.RegisterTestServiceServer(srv, servers[i])
		go srv.Serve(ln)
		defer srv.Stop()
		if err := g.Add(group.Backend{ID: fmt.Sprintf("orders-%d", i+1), Addr: ln.Addr().String()}); err != nil {
			return err
		}
	}

	grpcgroup.Register(&reg) // once: elb:///NAME resolves reg's group NAME
	cc, err := grpc.NewClient("elb:///orders", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer cc.Close()
	client := testgrpc.NewTestServiceClient(cc)

	failed := 0
	for range calls {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := client.EmptyCall(ctx, &testgrpc.Empty{})
		cancel()
		if err != nil {
			if failed++; failed <= 3 {
				fmt.Println("  call failed:", err)
			}
		}
	}

	fmt.Printf("%d calls to elb:///orders, %d failed; the group orders counted %d\n", calls, failed, g.Stats().Requests)
	uneven := 0
	for i, s := range servers {
		n := s.calls.Load()
		fmt.Printf("  orders-%d served %d (%.1f%%)\n", i+1, n, 100*float64(n)/calls)
		if n < calls/int64(2*len(servers)) {
			uneven++
		}
	}
	switch {
	case failed > 0:
		return fmt.Errorf("%d of %d calls failed", failed, calls)
	case uneven > 0:
		return errors.New("the calls did not spread over the servers (is the elb policy selected?)")
	}
	fmt.Println("OK")
	return nil
}
