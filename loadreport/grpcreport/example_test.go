package grpcreport_test

import (
	"net"

	"google.golang.org/grpc"

	"github.com/go-elb/elb/loadreport"
	"github.com/go-elb/elb/loadreport/grpcreport"
)

// A gRPC server whose every call's trailer carries its load, and which
// streams it out of band to the clients that ask (grpcgroup's
// "oobLoadReport").
func Example() {
	rep, err := loadreport.New(loadreport.Config{Capacity: 64})
	if err != nil {
		panic(err)
	}
	srv := grpc.NewServer(grpcreport.ServerOptions(rep)...)
	if err := grpcreport.Register(srv, rep, 0); err != nil {
		panic(err)
	}
	// Register the services, then serve.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln)
	srv.Stop()
}
