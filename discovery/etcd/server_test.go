package etcd

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/go-elb/elb/discovery/etcd/internal/etcdserver"
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
		shared.Stop()
		os.RemoveAll(shared.Dir)
	}
	os.Exit(code)
}

// server is a real etcd, embedded, on 127.0.0.1.
type server struct{ *etcdserver.Server }

var (
	sharedOnce sync.Once
	shared     *server
	sharedErr  error
)

// sharedServer returns the etcd that tests share (each uses its own
// prefix), started on first use and stopped by TestMain.
func sharedServer(t *testing.T) *server {
	t.Helper()
	if err := startShared(); err != nil {
		t.Fatal(err)
	}
	return shared
}

// startShared starts the shared server, once.
func startShared() error {
	sharedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "elb-etcd")
		if err != nil {
			sharedErr = err
			return
		}
		es, err := etcdserver.New(dir)
		if err != nil {
			sharedErr = err
			return
		}
		shared = &server{es}
		sharedErr = shared.Start()
	})
	return sharedErr
}

// newServer starts an etcd of the test's own, stopped at the test's end.
func newServer(t *testing.T) *server {
	t.Helper()
	es, err := etcdserver.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := es.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(es.Stop)
	return &server{es}
}

// client returns a client of s, closed at the test's end.
func (s *server) client(t *testing.T) *clientv3.Client {
	t.Helper()
	c, err := s.Client()
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
