// Command grpc balances gRPC calls with elb. It starts three gRPC servers
// on 127.0.0.1, two in zone az1 and one in az2, puts them in the group
// orders (weighted round robin, local zone az1, health checks with the
// gRPC health service), and opens a channel to elb:///orders with no
// service config: the resolver selects the "elb" policy, which picks from
// the group orders itself. It prints where the calls went while az1 is
// healthy, after both az1 servers report NOT_SERVING (the calls fail over
// to az2), and after they recover, then the group's statistics, which
// count every call. It exits non-zero if any call failed.
//
//	go run ./examples/grpc
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/grpcgroup"
	elbhealth "github.com/go-elb/elb/health"
)

// server is a gRPC server that counts the calls it serves.
type server struct {
	testgrpc.UnimplementedTestServiceServer
	id, zone string
	weight   int
	addr     string
	calls    atomic.Int64
	health   *health.Server
}

func (s *server) EmptyCall(context.Context, *testgrpc.Empty) (*testgrpc.Empty, error) {
	s.calls.Add(1)
	return &testgrpc.Empty{}, nil
}

func (s *server) start() (stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.addr = ln.Addr().String()
	srv := grpc.NewServer()
	s.health = health.NewServer()
	testgrpc.RegisterTestServiceServer(srv, s)
	healthpb.RegisterHealthServer(srv, s.health)
	go srv.Serve(ln)
	return srv.Stop, nil
}

func (s *server) serving(ok bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if ok {
		st = healthpb.HealthCheckResponse_SERVING
	}
	s.health.SetServingStatus("", st)
}

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	servers := []*server{
		{id: "a", zone: "az1", weight: 2},
		{id: "b", zone: "az1", weight: 1},
		{id: "c", zone: "az2", weight: 1},
	}
	var reg group.Registry
	g, err := group.New(group.Config{
		Name:      "orders",
		Algorithm: "weighted_round_robin",
		LocalZone: "az1",
		// grpc.health.v1 Check calls: no healthCheckConfig, no blank import.
		Health:   &elbhealth.Config{Probe: elbhealth.GRPCProbe(""), Interval: time.Second, HealthyThreshold: 1, UnhealthyThreshold: 1},
		Registry: &reg,
	})
	if err != nil {
		return err
	}
	defer g.Close(context.Background())
	for _, s := range servers {
		stop, err := s.start()
		if err != nil {
			return err
		}
		defer stop()
		if err := g.Add(group.Backend{ID: s.id, Addr: s.addr, Zone: s.zone, Weight: group.Weight(s.weight)}); err != nil {
			return err
		}
	}

	// No service config: the resolver supplies one selecting "elb".
	cc, err := grpc.NewClient("elb:///orders",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpcgroup.WithRegistry(&reg)) // or grpcgroup.Register(&reg) once, for every channel
	if err != nil {
		return err
	}
	defer cc.Close()
	client := testgrpc.NewTestServiceClient(cc)
	fmt.Printf("group orders: a (az1, weight 2), b (az1, weight 1), c (az2, weight 1); weighted_round_robin, local zone az1, gRPC health checks\n\n")

	failed := 0
	phase := func(title string, n int) {
		for _, s := range servers {
			s.calls.Store(0)
		}
		for range n {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if _, err := client.EmptyCall(ctx, &testgrpc.Empty{}, grpc.WaitForReady(true)); err != nil {
				failed++
				fmt.Println("call failed:", err)
			}
			cancel()
		}
		fmt.Println(title)
		tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "server\tzone\tweight\tcalls\tshare\t")
		for _, s := range servers {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.1f%%\t\n", s.id, s.zone, s.weight, s.calls.Load(), 100*float64(s.calls.Load())/float64(n))
		}
		tw.Flush()
		fmt.Println()
	}

	// The first health checks admit the servers.
	if err := await(g, func(st group.Stats) bool { return st.RouteZone == "az1" && st.Available == 2 }); err != nil {
		return err
	}
	phase("1. az1 healthy: calls stay in the local zone, 2:1 by weight", 600)

	servers[0].serving(false)
	servers[1].serving(false)
	if err := await(g, func(st group.Stats) bool { return st.RouteZone == "" && st.Available == 1 }); err != nil {
		return err
	}
	phase("2. a and b report NOT_SERVING: az1 has no healthy server, calls fail over to az2", 300)

	servers[0].serving(true)
	servers[1].serving(true)
	if err := await(g, func(st group.Stats) bool { return st.RouteZone == "az1" && st.Available == 2 }); err != nil {
		return err
	}
	phase("3. a and b serve again: calls return to az1", 300)

	st := g.Stats()
	fmt.Printf("group %s (the registry's, which the channel picks from): %d calls, %d failures, %d picks with no backend\n",
		st.Name, st.Requests, st.Failures, st.NoBackend)
	fmt.Printf("failed calls: %d\n", failed)
	if failed > 0 {
		return errors.New("some calls failed")
	}
	return nil
}

// await waits until the group satisfies cond.
func await(g *group.Group, cond func(group.Stats) bool) error {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if cond(g.Stats()) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("timed out waiting for the health checks")
}
