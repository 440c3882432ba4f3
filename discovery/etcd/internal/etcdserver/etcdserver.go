// Package etcdserver runs a real etcd, embedded (go.etcd.io/etcd/server/v3/embed),
// on 127.0.0.1, for the tests and the example of discovery/etcd.
package etcdserver

import (
	"fmt"
	"net"
	"net/url"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// Server is a single-member etcd on 127.0.0.1 that keeps its data in Dir.
// It can be stopped and started again on the same ports and data.
type Server struct {
	// Dir is the data directory.
	Dir string
	// ClientURL is where clients connect: http://127.0.0.1:PORT.
	ClientURL string

	peerURL string
	e       *embed.Etcd
}

// New returns a server with its data in dir, on two ports that were
// free a moment ago (the kernel's choice for port 0). It is not started.
func New(dir string) (*Server, error) {
	c, err := freeURL()
	if err != nil {
		return nil, err
	}
	p, err := freeURL()
	if err != nil {
		return nil, err
	}
	return &Server{Dir: dir, ClientURL: c, peerURL: p}, nil
}

// freeURL returns http://127.0.0.1:PORT with a port the kernel gave a
// listener on port 0.
func freeURL() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return "http://" + ln.Addr().String(), nil
}

// Start starts the server, or starts it again, and waits until it
// serves (at most 20s).
func (s *Server) Start() error {
	cfg := embed.NewConfig()
	cfg.Name = "elb"
	cfg.Dir = s.Dir
	cu, err := url.Parse(s.ClientURL)
	if err != nil {
		return err
	}
	pu, err := url.Parse(s.peerURL)
	if err != nil {
		return err
	}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.UnsafeNoFsync = true // a test server: no fsync per write
	cfg.LogLevel = "error"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("start etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(20 * time.Second):
		e.Close()
		return fmt.Errorf("start etcd: not ready after 20s")
	}
	s.e = e
	return nil
}

// Stop stops the server, keeping its data. A stopped server's Stop does
// nothing.
func (s *Server) Stop() {
	if s.e != nil {
		s.e.Close()
		s.e = nil
	}
}

// Client returns a client of the server that reconnects at most 1s apart
// (gRPC's default backoff grows to 120s).
func (s *Server) Client() (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{
		Endpoints:   []string{s.ClientURL},
		DialTimeout: 5 * time.Second,
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
		})},
		Logger: zap.NewNop(),
	})
}
