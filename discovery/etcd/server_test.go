package etcd

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/go-elb/elb/group"
)

// TestMain runs the registering child process of TestKilledProcessLeaves
// when the test binary is re-executed with childEnv set.
func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(child(spec))
	}
	code := m.Run()
	if shared != nil {
		shared.stop()
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// server is a real etcd, embedded, on 127.0.0.1.
type server struct {
	dir, clientURL, peerURL string
	e                       *embed.Etcd
}

var (
	sharedOnce sync.Once
	shared     *server
	sharedErr  error
)

// sharedServer returns the etcd that tests share (each uses its own
// prefix), started on first use.
func sharedServer(t *testing.T) *server {
	t.Helper()
	sharedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "elb-etcd")
		if err != nil {
			sharedErr = err
			return
		}
		shared = &server{dir: dir, clientURL: freeURL(t), peerURL: freeURL(t)}
		sharedErr = shared.start()
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

// newServer starts an etcd of the test's own, stopped at the test's end.
func newServer(t *testing.T) *server {
	t.Helper()
	s := &server{dir: t.TempDir(), clientURL: freeURL(t), peerURL: freeURL(t)}
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s
}

// freeURL returns http://127.0.0.1:PORT with a port that was free a moment
// ago (the port the kernel gave a listener on port 0).
func freeURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return "http://" + ln.Addr().String()
}

// start starts (or starts again) the server on its data directory and
// ports.
func (s *server) start() error {
	cfg := embed.NewConfig()
	cfg.Name = "elb-test"
	cfg.Dir = s.dir
	cu, _ := url.Parse(s.clientURL)
	pu, _ := url.Parse(s.peerURL)
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
		return fmt.Errorf("etcd not ready after 20s")
	}
	s.e = e
	return nil
}

// stop stops the server, keeping its data.
func (s *server) stop() {
	if s.e != nil {
		s.e.Close()
		s.e = nil
	}
}

// client returns a client of s, closed at the test's end. It reconnects
// at most 1s apart (gRPC's default backoff grows to 120s), as the README
// suggests.
func (s *server) client(t *testing.T) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{s.clientURL},
		DialTimeout: 5 * time.Second,
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
		})},
		Logger: zap.NewNop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// prefix returns a prefix of the test's own.
func prefix(t *testing.T) string {
	return "elb-test/" + strings.ReplaceAll(t.Name(), "/", "-")
}

// errs collects the errors a Source or a Registration reports.
type errs struct {
	mu   sync.Mutex
	list []error
}

func (e *errs) add(err error) {
	e.mu.Lock()
	e.list = append(e.list, err)
	e.mu.Unlock()
}

func (e *errs) all() []error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]error(nil), e.list...)
}

// follower is a group kept in step with a prefix by a Source and Sync.
type follower struct {
	g         *group.Group
	sourceErr errs // the Source's reports
	syncErr   errs // Sync's errors
}

// follow starts a group that follows prefix through its own client of s.
func follow(t *testing.T, s *server, prefix string, allowEmpty bool) *follower {
	t.Helper()
	f := &follower{}
	g, err := group.New(group.Config{Name: prefix, DrainTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	f.g = g
	t.Cleanup(func() { g.Close(context.Background()) })
	src, err := NewSource(Config{Client: s.client(t), Prefix: prefix, OnError: f.sourceErr.add})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	err = group.Sync(ctx, g, src, group.SyncConfig{AllowEmpty: allowEmpty, MinBackoff: 100 * time.Millisecond,
		MaxBackoff: time.Second, OnError: f.syncErr.add})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// ids returns the group's members' IDs, sorted, with their addresses.
func (f *follower) members() map[string]group.Backend {
	m := make(map[string]group.Backend)
	for _, b := range f.g.Backends() {
		m[b.ID] = b
	}
	return m
}

// waitFor waits up to d for cond, polling every 5ms, and reports how long
// it took.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}
