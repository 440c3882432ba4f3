package etcd

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/naming/endpoints"

	"github.com/go-elb/elb"
	"github.com/go-elb/elb/group"
)

func TestNewSourceErrors(t *testing.T) {
	c := sharedServer(t).client(t)
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Prefix: "p"}, "elb: Config.Client: is nil: want an etcd client (clientv3.New)"},
		{Config{Client: c}, `elb: Config.Prefix: is empty: want the key prefix the backends register under, as endpoints.NewManager's target (such as "services/orders")`},
		{Config{Client: c, Prefix: "p/"}, `elb: Config.Prefix: "p/" must not end in "/": keys are Prefix + "/" + ID`},
		{Config{Client: c, Prefix: "p", Timeout: -time.Second}, "elb: Config.Timeout: -1s must not be negative"},
	} {
		_, err := NewSource(tc.cfg)
		var ce *elb.ConfigError
		if !errors.As(err, &ce) || !errors.Is(err, elb.ErrInvalidConfig) || err.Error() != tc.want {
			t.Errorf("NewSource(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

// next calls src.Next with a deadline.
func next(t *testing.T, src *Source) group.SourceUpdate {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u, err := src.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// ids lists the IDs of bs.
func ids(bs []group.Backend) string {
	var s []string
	for _, b := range bs {
		s = append(s, b.ID)
	}
	return strings.Join(s, ",")
}

// newSource returns a source of prefix p and what it reports.
func newSource(t *testing.T, c *clientv3.Client, p string) (*Source, *errs) {
	t.Helper()
	reported := &errs{}
	src, err := NewSource(Config{Client: c, Prefix: p, OnError: reported.add})
	if err != nil {
		t.Fatal(err)
	}
	return src, reported
}

// put writes value under prefix/id.
func put(t *testing.T, c *clientv3.Client, prefix, id, value string) {
	t.Helper()
	if _, err := c.Put(context.Background(), prefix+"/"+id, value); err != nil {
		t.Fatal(err)
	}
}

// The source's updates, step by step: a Full list, diffs, a burst as one
// diff, keys outside the prefix ignored, an empty prefix and the Full
// update after it.
func TestSourceUpdates(t *testing.T) {
	s := sharedServer(t)
	c := s.client(t)
	p := prefix(t)
	src, reported := newSource(t, c, p)
	put(t, c, p, "a", `{"Addr": "127.0.0.1:1"}`)
	put(t, c, p, "b", `{"Addr": "127.0.0.1:2", "Metadata": {"weight": 3}}`)
	put(t, c, p+"x", "c", `{"Addr": "127.0.0.1:3"}`) // another prefix: p + "x/c"
	if u := next(t, src); !u.Full || ids(u.Backends) != "a,b" || *u.Backends[1].Weight != 3 {
		t.Fatalf("first update %+v", u)
	}
	put(t, c, p, "a", `{"Addr": "127.0.0.1:1"}`) // no change: no update
	put(t, c, p, "c", `{"Addr": "127.0.0.1:3"}`)
	if u := next(t, src); u.Full || ids(u.Backends) != "c" || len(u.Removed) != 0 {
		t.Fatalf("add: %+v", u)
	}
	// One transaction, one update.
	if _, err := c.Txn(context.Background()).Then(clientv3.OpDelete(p+"/a"), clientv3.OpPut(p+"/b", `{"Addr": "127.0.0.1:2", "Metadata": {"weight": 4}}`)).Commit(); err != nil {
		t.Fatal(err)
	}
	if u := next(t, src); u.Full || ids(u.Backends) != "b" || *u.Backends[0].Weight != 4 || strings.Join(u.Removed, ",") != "a" {
		t.Fatalf("txn: %+v", u)
	}
	if _, err := c.Delete(context.Background(), p+"/", clientv3.WithPrefix()); err != nil {
		t.Fatal(err)
	}
	if u := next(t, src); u.Full || len(u.Backends) != 0 || strings.Join(u.Removed, ",") != "b,c" {
		t.Fatalf("all deleted: %+v", u)
	}
	// The group refused that (it keeps its last member), so the next
	// update is Full.
	put(t, c, p, "d", `{"Addr": "127.0.0.1:4"}`)
	if u := next(t, src); !u.Full || ids(u.Backends) != "d" {
		t.Fatalf("after empty: %+v", u)
	}
	put(t, c, p, "e", `{"Addr": "127.0.0.1:5"}`)
	if u := next(t, src); u.Full || ids(u.Backends) != "e" {
		t.Fatalf("then a diff: %+v", u)
	}
	if e := reported.all(); len(e) > 0 {
		t.Fatalf("reported %v", e)
	}
	// A Next whose ctx ends while it waits returns its error and stops the watch; the
	// next one lists again.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel) // while Next waits for a change
	if _, err := src.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled Next: %v", err)
	}
	if u := next(t, src); !u.Full || ids(u.Backends) != "d,e" {
		t.Fatalf("after a canceled Next: %+v", u)
	}
}

// Bad entries are skipped and reported, naming the key, the field and
// the value; a key whose new value is bad keeps its last good backend;
// a duplicate address is skipped until its holder goes.
func TestSourceBadEntries(t *testing.T) {
	s := sharedServer(t)
	c := s.client(t)
	p := prefix(t)
	put(t, c, p, "good", `{"Addr": "127.0.0.1:1", "Metadata": {"weight": 5}}`)
	f := follow(t, s, p, false)
	waitFor(t, time.Second, "good", func() bool { return len(f.members()) == 1 })
	for _, tc := range []struct{ id, value, want string }{
		{"w", `{"Addr": "127.0.0.1:2", "Metadata": {"weight": 300}}`, `key "` + p + `/w": Metadata.weight: "300" must be a JSON integer 0-100`},
		{"z", `{"Addr": "127.0.0.1:3", "Metadata": {"zone": 1}}`, `key "` + p + `/z": Metadata.zone: "1" must be a JSON string`},
		{"j", `not json`, `key "` + p + `/j": is not endpoint JSON`},
		{"good", `{"Addr": "127.0.0.1:1", "Metadata": {"weight": "5"}}`, `key "` + p + `/good": Metadata.weight: "\"5\"" must be a JSON integer 0-100`},
	} {
		before := len(f.sourceErr.all())
		put(t, c, p, tc.id, tc.value)
		waitFor(t, time.Second, "reported", func() bool { return len(f.sourceErr.all()) > before })
		err := f.sourceErr.all()[before]
		var ee *EntryError
		if !errors.As(err, &ee) || !errors.Is(err, ErrInvalidEntry) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: reported %v, want %q", tc.value, err, tc.want)
		}
	}
	m := f.members()
	if len(m) != 1 || *m["good"].Weight != 5 {
		t.Fatalf("members after bad entries: %+v", m)
	}
	// A second key with good's address: skipped, reported, and a member
	// once good is gone.
	before := len(f.sourceErr.all())
	put(t, c, p, "twin", `{"Addr": "127.0.0.1:1"}`)
	waitFor(t, time.Second, "reported", func() bool { return len(f.sourceErr.all()) > before })
	if err := f.sourceErr.all()[before]; !errors.Is(err, group.ErrDuplicateAddress) || !strings.Contains(err.Error(), `is the address of key "`+p+`/good"`) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := c.Delete(context.Background(), p+"/good"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Second, "twin takes over", func() bool { _, ok := f.members()["twin"]; return ok && len(f.members()) == 1 })
	if e := f.syncErr.all(); len(e) > 0 {
		t.Fatalf("the group refused updates: %v", e)
	}
}

// A watch whose revision etcd compacted away lists again: a Full update,
// the compaction reported.
func TestSourceCompaction(t *testing.T) {
	s := sharedServer(t)
	c := s.client(t)
	p := prefix(t)
	src, reported := newSource(t, c, p)
	put(t, c, p, "a", `{"Addr": "127.0.0.1:1"}`)
	if u := next(t, src); !u.Full || ids(u.Backends) != "a" {
		t.Fatalf("first update %+v", u)
	}
	// Changes, then a compaction past them, before the source watches.
	put(t, c, p, "b", `{"Addr": "127.0.0.1:2"}`)
	if _, err := c.Delete(context.Background(), p+"/a"); err != nil {
		t.Fatal(err)
	}
	resp, err := c.Put(context.Background(), p+"/c", `{"Addr": "127.0.0.1:3"}`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Compact(context.Background(), resp.Header.Revision); err != nil {
		t.Fatal(err)
	}
	if u := next(t, src); !u.Full || ids(u.Backends) != "b,c" {
		t.Fatalf("after compaction %+v", u)
	}
	if e := reported.all(); len(e) != 1 || !errors.Is(e[0], rpctypes.ErrCompacted) {
		t.Fatalf("reported %v, want one ErrCompacted", e)
	}
	// And it watches on.
	put(t, c, p, "d", `{"Addr": "127.0.0.1:4"}`)
	if u := next(t, src); u.Full || ids(u.Backends) != "d" {
		t.Fatalf("after the re-list %+v", u)
	}
}

// etcd stopped for 10 s: every group keeps every member, lists fail as
// errors, and after the restart the watch resumes: a change made then
// arrives, and the registrations of TTL 30 s stay; one of TTL 2 s loses
// its lease during the outage, reports it, and is registered again.
func TestEtcdRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("stops etcd for 10s")
	}
	s := newServer(t)
	p := prefix(t)
	ctx := context.Background()
	var regs []*Registration
	for _, b := range []group.Backend{{ID: "a", Addr: "127.0.0.1:1"}, {ID: "b", Addr: "127.0.0.1:2"}} {
		r, err := Register(ctx, s.client(t), p, b, RegisterConfig{TTL: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		regs = append(regs, r)
	}
	var lost errs
	short, err := Register(ctx, s.client(t), p, group.Backend{ID: "s", Addr: "127.0.0.1:9"}, RegisterConfig{TTL: 2 * time.Second, OnError: lost.add})
	if err != nil {
		t.Fatal(err)
	}
	defer short.Close(ctx)
	var fs []*follower
	removed := make(chan string, 10)
	var shortLeft atomic.Int32
	for range 3 {
		f := follow(t, s, p, false)
		waitFor(t, 5*time.Second, "three members", func() bool { return len(f.members()) == 3 })
		f.g.Subscribe(func(e group.Event) {
			switch {
			case e.Type == group.EventDraining && e.Backend.ID == "s":
				shortLeft.Add(1) // allowed: its old lease may expire before the new one's put
			case e.Type == group.EventDraining:
				removed <- e.Backend.ID
			}
		})
		fs = append(fs, f)
	}
	// A Source that has not listed yet, to see Next fail while etcd is down.
	late, err := NewSource(Config{Client: s.client(t), Prefix: p, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}

	s.Stop()
	stopped := time.Now()
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_, err = late.Next(lctx)
	cancel()
	if err == nil || !strings.Contains(err.Error(), "list "+p+"/") {
		t.Fatalf("Next with etcd down: %v", err)
	}
	t.Logf("Next with etcd down: %v", err)
	time.Sleep(10*time.Second - time.Since(stopped))
	for i, f := range fs {
		if len(f.members()) != 3 {
			t.Fatalf("group %d lost members while etcd was down: %+v", i, f.members())
		}
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	c := s.client(t)
	put(t, c, p, "c", `{"Addr": "127.0.0.1:3"}`)
	for i, f := range fs {
		waitFor(t, 15*time.Second, "the change after the restart", func() bool { _, ok := f.members()["c"]; return ok })
		t.Logf("group %d: the change after the restart arrived after %v", i, time.Since(restarted))
	}
	if u := next(t, late); !u.Full || !strings.HasPrefix(ids(u.Backends), "a,b,c") {
		t.Fatalf("the late source after the restart: %+v", u)
	}
	select {
	case id := <-removed:
		t.Fatalf("%s left a group", id)
	default:
	}
	for i, f := range fs {
		var n int
		for _, err := range f.sourceErr.all() {
			if !errors.Is(err, ErrUnreachable) {
				t.Errorf("group %d: reported %v", i, err)
			}
			n++
		}
		if n != 1 {
			t.Errorf("group %d: reported the outage %d times, want once", i, n)
		}
	}
	for i, f := range fs {
		waitFor(t, 10*time.Second, "the short lease's backend, registered again", func() bool { _, ok := f.members()["s"]; return ok })
		if i == 0 {
			t.Logf("s is a member again %v after the restart; it left a group %d times", time.Since(restarted), shortLeft.Load())
		}
	}
	if e := lost.all(); len(e) == 0 || !errors.Is(e[0], ErrLeaseLost) {
		t.Fatalf("the short lease's registration reported %v, want ErrLeaseLost first", e)
	}
	for _, r := range regs {
		if err := r.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range fs {
		waitFor(t, 5*time.Second, "closed registrations leave", func() bool { return len(f.members()) == 2 })
	}
}

// At every size, the list is the whole prefix, in ID order, and a run of
// deletions and changes comes through as diffs that add up to exactly
// them.
func TestSourceSizes(t *testing.T) {
	s := sharedServer(t)
	c := s.client(t)
	for _, n := range []int{1, 2, 3, 10, 100, 164, 500, 1000, 10000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			p := prefix(t)
			ctx := context.Background()
			mgr, err := endpoints.NewManager(c, p)
			if err != nil {
				t.Fatal(err)
			}
			write := func(ups []*endpoints.UpdateWithOpts) {
				for len(ups) > 0 { // etcd allows 128 operations in a transaction
					k := min(len(ups), 100)
					if err := mgr.Update(ctx, ups[:k]); err != nil {
						t.Fatal(err)
					}
					ups = ups[k:]
				}
			}
			key := func(i int) string { return fmt.Sprintf("%s/b%05d", p, i) }
			addr := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", 10000+i) }
			var ups []*endpoints.UpdateWithOpts
			for i := range n {
				ups = append(ups, endpoints.NewAddUpdateOpts(key(i), endpoint(group.Backend{Addr: addr(i), Weight: group.Weight(i % 101)})))
			}
			start := time.Now()
			write(ups)
			wrote := time.Since(start)
			src, reported := newSource(t, c, p)
			u := next(t, src)
			listed := time.Since(start) - wrote
			if !u.Full || len(u.Backends) != n {
				t.Fatalf("list: Full %v, %d backends", u.Full, len(u.Backends))
			}
			for i, b := range u.Backends {
				if b.ID != fmt.Sprintf("b%05d", i) || b.Addr != addr(i) || *b.Weight != i%101 {
					t.Fatalf("list: backend %d is %+v", i, b)
				}
			}
			// Delete the even ones, re-weight every third odd one.
			ups = ups[:0]
			wantRemoved, wantChanged := map[string]bool{}, map[string]int{}
			for i := range n {
				switch {
				case i%2 == 0:
					ups = append(ups, endpoints.NewDeleteUpdateOpts(key(i)))
					wantRemoved[fmt.Sprintf("b%05d", i)] = true
				case i%3 == 0:
					ups = append(ups, endpoints.NewAddUpdateOpts(key(i), endpoint(group.Backend{Addr: addr(i), Weight: group.Weight((i + 1) % 101)})))
					wantChanged[fmt.Sprintf("b%05d", i)] = (i + 1) % 101
				}
			}
			write(ups)
			removed, changed := map[string]bool{}, map[string]int{}
			for len(removed) < len(wantRemoved) || len(changed) < len(wantChanged) {
				u := next(t, src)
				if u.Full {
					t.Fatalf("a Full update after the list")
				}
				for _, id := range u.Removed {
					removed[id] = true
				}
				for _, b := range u.Backends {
					changed[b.ID] = *b.Weight
				}
			}
			t.Logf("n=%d: written in %v, listed in %v, the changes written and followed in %v", n, wrote, listed, time.Since(start)-wrote-listed)
			if !maps.Equal(removed, wantRemoved) || !maps.Equal(changed, wantChanged) {
				t.Fatalf("diffs: %d removed, %d changed; want %d, %d", len(removed), len(changed), len(wantRemoved), len(wantChanged))
			}
			if e := reported.all(); len(e) > 0 {
				t.Fatalf("reported %v", e[0])
			}
		})
	}
}
