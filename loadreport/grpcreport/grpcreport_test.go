package grpcreport_test

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/orca"
	"google.golang.org/grpc/status"

	"github.com/go-elb/elb/loadreport"
	"github.com/go-elb/elb/loadreport/grpcreport"
)

type service struct {
	testgrpc.UnimplementedTestServiceServer
	fail bool
}

func (s *service) EmptyCall(ctx context.Context, _ *testgrpc.Empty) (*testgrpc.Empty, error) {
	if s.fail {
		return nil, status.Error(codes.Unavailable, "down")
	}
	orca.CallMetricsRecorderFromContext(ctx).SetNamedMetric("handler", 7) // a handler's own metric
	return &testgrpc.Empty{}, nil
}

// Every call's trailer carries the report, in the proto that
// loadreport.ParseProto decodes: grpc-go's encoder, elb's decoder.
func TestTrailers(t *testing.T) {
	for _, fail := range []bool{false, true} {
		rep, err := loadreport.New(loadreport.Config{Utilization: func() float64 { return 0.25 }, CPUUtilization: func() float64 { return 0.125 }})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := grpc.NewServer(grpcreport.ServerOptions(rep)...)
		testgrpc.RegisterTestServiceServer(srv, &service{fail: fail})
		go srv.Serve(ln)
		cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		var tr metadata.MD
		_, err = testgrpc.NewTestServiceClient(cc).EmptyCall(context.Background(), &testgrpc.Empty{}, grpc.Trailer(&tr))
		if fail != (err != nil) {
			t.Fatalf("fail %v: call error %v", fail, err)
		}
		v := tr.Get("endpoint-load-metrics-bin")
		if len(v) != 1 {
			t.Fatalf("trailer %v: want one endpoint-load-metrics-bin", tr)
		}
		load, err := loadreport.ParseProto([]byte(v[0]))
		if err != nil {
			t.Fatal(err)
		}
		if load.ApplicationUtilization != 0.25 || load.CPUUtilization != 0.125 {
			t.Errorf("fail %v: trailer load %+v, want utilization 0.25 and CPU 0.125", fail, load)
		}
		cc.Close()
		srv.Stop()
		if rep.InFlight() != 0 {
			t.Errorf("%d calls still in flight", rep.InFlight())
		}
	}
}

func TestRegister(t *testing.T) {
	rep, _ := loadreport.New(loadreport.Config{})
	srv := grpc.NewServer()
	defer srv.Stop()
	if err := grpcreport.Register(srv, rep, 0); err != nil {
		t.Fatal(err)
	}
}
