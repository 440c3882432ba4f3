package etcd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/naming/endpoints"
	"go.uber.org/zap"

	"github.com/go-elb/elb"
	"github.com/go-elb/elb/group"
)

// childEnv, set to "ENDPOINT PREFIX ID ADDR TTL", makes the test binary a
// process that registers one backend, says "registered" and waits to be
// killed.
const childEnv = "ELB_ETCD_TEST_REGISTER"

func child(spec string) int {
	f := strings.Fields(spec)
	ttl, err := time.ParseDuration(f[4])
	if err == nil {
		var c *clientv3.Client
		c, err = clientv3.New(clientv3.Config{Endpoints: []string{f[0]}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
		if err == nil {
			_, err = Register(context.Background(), c, f[1], group.Backend{ID: f[2], Addr: f[3]}, RegisterConfig{TTL: ttl})
		}
	}
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("registered")
	select {} // until killed
}

func TestRegisterConfigErrors(t *testing.T) {
	s := sharedServer(t)
	c := s.client(t)
	ctx := context.Background()
	ok := group.Backend{Addr: "127.0.0.1:8080"}
	for _, tc := range []struct {
		client *clientv3.Client
		prefix string
		b      group.Backend
		ttl    time.Duration
		want   string
	}{
		{nil, "p", ok, 0, "elb: client: is nil: want an etcd client (clientv3.New)"},
		{c, "", ok, 0, `elb: prefix: is empty: want the key prefix the clients' Source watches (such as "services/orders")`},
		{c, "p/", ok, 0, `elb: prefix: "p/" must not end in "/": the key is prefix + "/" + ID`},
		{c, "p", group.Backend{}, 0, "elb: Backend.Addr: is required"},
		{c, "p", group.Backend{Addr: "127.0.0.1"}, 0, `elb: Backend.Addr: "127.0.0.1" is not host:port`},
		{c, "p", group.Backend{Addr: "127.0.0.1:1", Weight: group.Weight(101)}, 0, "elb: Backend.Weight: 101 must be 0-100"},
		{c, "p", group.Backend{Addr: "127.0.0.1:1", Metadata: map[string]string{"zone": "az1"}}, 0, `elb: Backend.Metadata.zone: "az1" is reserved: set Backend.Weight and Backend.Zone`},
		{c, "p", ok, time.Second, "elb: TTL: 1s must be a whole number of seconds, 2s-1h"},
		{c, "p", ok, 2500 * time.Millisecond, "elb: TTL: 2.5s must be a whole number of seconds, 2s-1h"},
		{c, "p", ok, time.Hour + time.Second, "elb: TTL: 1h0m1s must be a whole number of seconds, 2s-1h"},
		{c, "p", ok, -time.Second, "elb: TTL: -1s must be a whole number of seconds, 2s-1h"},
	} {
		_, err := Register(ctx, tc.client, tc.prefix, tc.b, RegisterConfig{TTL: tc.ttl})
		var ce *elb.ConfigError
		if !errors.As(err, &ce) || !errors.Is(err, elb.ErrInvalidConfig) || err.Error() != tc.want {
			t.Errorf("Register(%q, %+v, %v) = %v, want %q", tc.prefix, tc.b, tc.ttl, err, tc.want)
		}
	}
	// The bounds are valid.
	for _, ttl := range []time.Duration{MinTTL, MaxTTL} {
		r, err := Register(ctx, c, prefix(t), ok, RegisterConfig{TTL: ttl})
		if err != nil {
			t.Fatalf("TTL %v: %v", ttl, err)
		}
		if err := r.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// A registration appears in every client's group within 1 s, and Close
// takes it out of every one.
func TestRegisterAppearsInThreeGroups(t *testing.T) {
	s := sharedServer(t)
	p := prefix(t)
	ctx := context.Background()
	first, err := Register(ctx, s.client(t), p, group.Backend{ID: "a", Addr: "127.0.0.1:9001"}, RegisterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close(ctx)
	var fs []*follower
	for range 3 {
		f := follow(t, s, p, false)
		waitFor(t, 5*time.Second, "the first member", func() bool { return len(f.members()) == 1 })
		fs = append(fs, f)
	}
	reg, err := Register(ctx, s.client(t), p,
		group.Backend{ID: "b", Addr: "127.0.0.1:9002", Weight: group.Weight(7), Zone: "az2", Metadata: map[string]string{"version": "v2"}},
		RegisterConfig{TTL: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i, f := range fs {
		waitFor(t, time.Second-time.Since(start), fmt.Sprintf("group %d has b", i), func() bool { _, ok := f.members()["b"]; return ok })
		b := f.members()["b"]
		if b.Addr != "127.0.0.1:9002" || *b.Weight != 7 || b.Zone != "az2" || b.Metadata["version"] != "v2" || len(b.Metadata) != 1 {
			t.Fatalf("group %d: %+v", i, b)
		}
	}
	t.Logf("registration in all 3 groups after %v", time.Since(start))
	if reg.Key() != p+"/b" {
		t.Fatalf("Key() = %q", reg.Key())
	}
	if err := reg.Close(ctx); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	for i, f := range fs {
		waitFor(t, time.Second-time.Since(start), fmt.Sprintf("group %d without b", i), func() bool { _, ok := f.members()["b"]; return !ok })
	}
	t.Logf("Close: out of all 3 groups after %v", time.Since(start))
	if err := reg.Close(ctx); err != nil { // again: nothing to delete
		t.Fatal(err)
	}
	for i, f := range fs {
		if e := f.sourceErr.all(); len(e) > 0 {
			t.Errorf("group %d: source reported %v", i, e)
		}
	}
}

// A registering process killed with SIGKILL leaves every group when its
// lease expires.
func TestKilledProcessLeaves(t *testing.T) {
	s := sharedServer(t)
	p := prefix(t)
	var fs []*follower
	for range 3 {
		fs = append(fs, follow(t, s, p, true))
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const ttl = 2 * time.Second
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s dies 127.0.0.1:9009 %v", childEnv, s.ClientURL, p, ttl))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "registered\n" {
		t.Fatalf("child: %q", line)
	}
	for i, f := range fs {
		waitFor(t, time.Second, fmt.Sprintf("group %d has the child's backend", i), func() bool { return len(f.members()) == 1 })
	}
	if err := syscall.Kill(cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	_ = cmd.Wait()
	// etcd checks expiry every 500ms, and a lease may live up to about one
	// TTL past its last keep-alive, sent every TTL/3.
	for i, f := range fs {
		waitFor(t, 2*ttl-time.Since(killed), fmt.Sprintf("group %d without the killed backend", i), func() bool { return len(f.members()) == 0 })
	}
	t.Logf("killed process out of all 3 groups %v after SIGKILL (TTL %v)", time.Since(killed), ttl)
}

// A lease lost while the process lives (here revoked behind the
// registration's back) is reported, and the backend is registered again.
func TestLeaseLostRegistersAgain(t *testing.T) {
	s := sharedServer(t)
	p := prefix(t)
	f := follow(t, s, p, true)
	c := s.client(t)
	var reported errs
	ctx := context.Background()
	reg, err := Register(ctx, c, p, group.Backend{ID: "a", Addr: "127.0.0.1:9010"}, RegisterConfig{TTL: 2 * time.Second, OnError: reported.add})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close(ctx)
	waitFor(t, time.Second, "registered", func() bool { return len(f.members()) == 1 })
	reg.mu.Lock()
	lease := reg.lease
	reg.mu.Unlock()
	if _, err := c.Revoke(ctx, lease); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "the revoked key leaves the group", func() bool { return len(f.members()) == 0 })
	waitFor(t, 5*time.Second, "registered again", func() bool { return len(f.members()) == 1 })
	e := reported.all()
	if len(e) == 0 || !errors.Is(e[0], ErrLeaseLost) {
		t.Fatalf("reported %v, want ErrLeaseLost", e)
	}
	waitFor(t, time.Second, "a new lease", func() bool { // publish notes the lease once the put returns
		reg.mu.Lock()
		defer reg.mu.Unlock()
		return reg.lease != lease
	})
	if err := reg.Close(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Second, "closed", func() bool { return len(f.members()) == 0 })
}

// What Register writes, etcd's own endpoints.Manager reads; what the
// Manager writes (with or without a lease), the Source finds.
func TestEndpointsManagerCompatible(t *testing.T) {
	s := sharedServer(t)
	p := prefix(t)
	c := s.client(t)
	ctx := context.Background()
	mgr, err := endpoints.NewManager(c, p)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := Register(ctx, c, p, group.Backend{ID: "r", Addr: "127.0.0.1:9020", Weight: group.Weight(3), Zone: "az1",
		Metadata: map[string]string{"k": "v"}}, RegisterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close(ctx)
	list, err := mgr.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ep := list[p+"/r"]
	md, _ := ep.Metadata.(map[string]any)
	if ep.Addr != "127.0.0.1:9020" || md["weight"] != 3.0 || md["zone"] != "az1" || md["k"] != "v" || len(md) != 3 {
		t.Fatalf("endpoints.Manager lists %#v", list)
	}

	f := follow(t, s, p, false)
	lease, err := c.Grant(ctx, 30)
	if err != nil {
		t.Fatal(err)
	}
	if err := mgr.AddEndpoint(ctx, p+"/plain", endpoints.Endpoint{Addr: "127.0.0.1:9021"}); err != nil {
		t.Fatal(err)
	}
	if err := mgr.AddEndpoint(ctx, p+"/leased", endpoints.Endpoint{Addr: "localhost:9022",
		Metadata: map[string]any{"weight": 0, "zone": "az3", "tags": []string{"x"}, "n": 1.5}}, clientv3.WithLease(lease.ID)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Second, "three members", func() bool { return len(f.members()) == 3 })
	m := f.members()
	if b := m["plain"]; b.Addr != "127.0.0.1:9021" || *b.Weight != group.DefaultWeight || b.Zone != "" || len(b.Metadata) != 0 {
		t.Errorf("plain: %+v", b)
	}
	if b := m["leased"]; b.Addr != "localhost:9022" || *b.Weight != 0 || b.Zone != "az3" || b.Metadata["tags"] != `["x"]` || b.Metadata["n"] != "1.5" {
		t.Errorf("leased: %+v", b)
	}
	if b := m["r"]; *b.Weight != 3 || b.Zone != "az1" || b.Metadata["k"] != "v" {
		t.Errorf("r: %+v", b)
	}
	if err := mgr.DeleteEndpoint(ctx, p+"/plain"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Revoke(ctx, lease.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Second, "one member", func() bool { return len(f.members()) == 1 })
}

// 1,000 backends registered with etcd's endpoints.Manager, under one
// lease, in transactions of 100 (etcd allows 128 operations in one), are
// listed by a group that starts after them and followed by one that
// starts before; 500 leave both. (TestRegisterMany registers with
// Register, a lease each.)
func TestThousandBackends(t *testing.T) {
	s := sharedServer(t)
	p := prefix(t)
	before := follow(t, s, p, true)
	c := s.client(t)
	ctx := context.Background()
	mgr, err := endpoints.NewManager(c, p)
	if err != nil {
		t.Fatal(err)
	}
	lease, err := c.Grant(ctx, 60)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Revoke(ctx, lease.ID)
	const n = 1000
	key := func(i int) string { return fmt.Sprintf("%s/b%04d", p, i) }
	start := time.Now()
	for i := 0; i < n; i += 100 {
		var ups []*endpoints.UpdateWithOpts
		for j := i; j < i+100; j++ {
			ups = append(ups, endpoints.NewAddUpdateOpts(key(j), endpoint(group.Backend{Addr: fmt.Sprintf("127.0.0.1:%d", 20000+j),
				Weight: group.Weight(j % 101)}), clientv3.WithLease(lease.ID)))
		}
		if err := mgr.Update(ctx, ups); err != nil {
			t.Fatal(err)
		}
	}
	after := follow(t, s, p, true)
	for _, f := range []*follower{before, after} {
		waitFor(t, 20*time.Second, "1000 members", func() bool { return len(f.members()) == n })
		bs := f.g.Backends()
		slices.SortFunc(bs, byID)
		for i, b := range bs {
			if want := fmt.Sprintf("b%04d", i); b.ID != want || *b.Weight != i%101 {
				t.Fatalf("member %d: %+v, want ID %s weight %d", i, b, want, i%101)
			}
		}
	}
	t.Logf("%d backends written, listed by one group and followed by another in %v", n, time.Since(start))
	start = time.Now()
	for i := 0; i < n; i += 200 {
		var ups []*endpoints.UpdateWithOpts
		for j := i; j < i+200; j += 2 {
			ups = append(ups, endpoints.NewDeleteUpdateOpts(key(j)))
		}
		if err := mgr.Update(ctx, ups); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []*follower{before, after} {
		waitFor(t, 20*time.Second, "500 members", func() bool { return len(f.members()) == n/2 })
		for _, b := range f.g.Backends() {
			if b.ID[len(b.ID)-1]%2 == 0 {
				t.Fatalf("%s is still a member", b.ID)
			}
		}
	}
	t.Logf("500 deleted, seen by both groups in %v", time.Since(start))
}

// 100 backends registered with Register, a lease each, are in a group;
// 50 closed leave it.
func TestRegisterMany(t *testing.T) {
	s := sharedServer(t)
	p := prefix(t)
	f := follow(t, s, p, true)
	c := s.client(t)
	ctx := context.Background()
	const n = 100
	regs := make([]*Registration, n)
	errc := make(chan error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Go(func() {
			var err error
			regs[i], err = Register(ctx, c, p, group.Backend{ID: fmt.Sprintf("r%03d", i), Addr: fmt.Sprintf("127.0.0.1:%d", 30000+i)},
				RegisterConfig{TTL: 30 * time.Second})
			errc <- err
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, r := range regs {
			wg.Go(func() { r.Close(ctx) })
		}
		wg.Wait()
	}()
	waitFor(t, 10*time.Second, "100 members", func() bool { return len(f.members()) == n })
	t.Logf("%d registrations in the group after %v", n, time.Since(start))
	for i := 0; i < n; i += 2 {
		wg.Go(func() {
			if err := regs[i].Close(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	waitFor(t, 10*time.Second, "50 members", func() bool { return len(f.members()) == n/2 })
}
