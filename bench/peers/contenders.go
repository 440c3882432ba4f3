package main

import (
	"context"
	"fmt"
	"hash/maphash"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/buraksezer/consistent"
	"github.com/go-kratos/kratos/v2/registry"
	"github.com/go-kratos/kratos/v2/selector"
	"github.com/go-kratos/kratos/v2/selector/p2c"
	"github.com/go-kratos/kratos/v2/selector/wrr"
	"github.com/mroth/weightedrand/v2"
	"github.com/smallnest/weighted"

	"github.com/go-elb/elb/balancer"
	"github.com/go-elb/elb/group"
)

// algorithms are the elb algorithms the harness runs, through a Group and
// as bare pickers. The first five are the ones the bookkeeping floor and
// the scaling rows are about.
var algorithms = []string{
	balancer.NameRoundRobin,
	balancer.NameWeightedRoundRobin,
	balancer.NameRandom,
	balancer.NameWeightedRandom,
	balancer.NameLeastRequest,
	balancer.NameConsistentHash,
}

// pickers are the bare pickers of algorithms, built from the balancer
// package's exported algorithm types.
var pickers = map[string]balancer.Algorithm{
	balancer.NameRoundRobin:         balancer.RoundRobin{},
	balancer.NameWeightedRoundRobin: balancer.WeightedRoundRobin{},
	balancer.NameRandom:             balancer.Random{},
	balancer.NameWeightedRandom:     balancer.WeightedRandom{},
	balancer.NameLeastRequest:       balancer.LeastRequest{},
	balancer.NameConsistentHash:     balancer.ConsistentHash{},
}

// Contender names: the keys of the results and of the table's rows.
const (
	nameFloor        = "floor"
	nameSmallnest    = "smallnest/weighted SW"
	nameWeightedrand = "mroth/weightedrand"
	nameKratosWRR    = "kratos wrr"
	nameKratosP2C    = "kratos p2c"
	nameConsistent   = "buraksezer/consistent"
)

func groupName(alg string) string  { return "group " + alg }
func pickerName(alg string) string { return "picker " + alg }

// contender is one way of doing a job, benchmarked serially and with
// b.RunParallel.
type contender struct {
	name string
	// op is the job, once: a pick (and its done, where the contender has
	// one). seq is a sequence number private to the calling goroutine.
	// Its result goes to a sink; a negative result is a failure, which
	// fail has recorded.
	op func(seq uint64) int
	// opParallel, if not nil, is op for RunParallel: smallnest's SW is not
	// safe for concurrent use, so its parallel op holds a mutex.
	opParallel func(seq uint64) int
	// newOp, if not nil, makes op for one goroutine (serial or one of
	// RunParallel's), for contenders with state per goroutine; it
	// replaces op and opParallel.
	newOp func() func(seq uint64) int
	// index, if not nil, is op returning the index of the backend picked,
	// for the test (op itself returns it where that costs nothing).
	index func(seq uint64) int
	// noIndex is set for a contender that does not balance (the bare
	// RoundTripper): it picks no backend, and the test does not ask.
	noIndex bool
	// close releases what the contender holds; nil for nothing.
	close func()
}

// failure is the first error an op met. Ops record it and return -1
// rather than panic inside a benchmark; the harness checks it after each
// benchmark.
type failure struct{ err atomic.Pointer[error] }

func (f *failure) fail(err error) int {
	f.err.CompareAndSwap(nil, &err)
	return -1
}

func (f *failure) get() error {
	if p := f.err.Load(); p != nil {
		return *p
	}
	return nil
}

// addr is backend i's address, as in the root module's benchmarks.
func addr(i int) string {
	return fmt.Sprintf("10.%d.%d.%d:8080", i>>16&255, i>>8&255, i&255)
}

// weight is backend i's weight, 1-10, as in the root module's benchmarks.
func weight(i int) int { return i%10 + 1 }

// backends returns n backends with weights 1-10, as the root module's
// bench_test.go does.
func backends(n int) []group.Backend {
	bs := make([]group.Backend, n)
	for i := range bs {
		bs[i] = group.Backend{
			ID:     fmt.Sprintf("b%d", i),
			Addr:   addr(i),
			Weight: group.Weight(weight(i)),
			Zone:   fmt.Sprintf("az%d", i%3),
		}
	}
	return bs
}

// keys are the affinity keys of the hashing contenders, 1,024 of them, as
// strings (elb) and as bytes (buraksezer/consistent takes []byte: the
// conversion is done once here, not in the timed loop).
var (
	keys, keyBytes = func() ([]string, [][]byte) {
		ks := make([]string, 1024)
		bs := make([][]byte, len(ks))
		for i := range ks {
			ks[i] = fmt.Sprintf("user-%d", i*7919)
			bs[i] = []byte(ks[i])
		}
		return ks, bs
	}()
	groupRequests = func() []group.Request {
		rs := make([]group.Request, len(keys))
		for i := range rs {
			rs[i] = group.Request{Key: keys[i], Source: "192.0.2.7:4242"}
		}
		return rs
	}()
	pickerRequests = func() []balancer.Request {
		rs := make([]balancer.Request, len(keys))
		for i := range rs {
			rs[i] = balancer.Request{Key: keys[i], Source: "192.0.2.7:4242"}
		}
		return rs
	}()
)

// contenders builds every pick contender at n backends: the floor, elb's
// groups and bare pickers, and the peers. f collects the ops' failures.
func contenders(n int, f *failure) ([]*contender, error) {
	var cs []*contender
	add := func(c *contender, err error) error {
		if err != nil {
			for _, c := range cs {
				if c.close != nil {
					c.close()
				}
			}
			return fmt.Errorf("n=%d: %s: %w", n, c.name, err)
		}
		cs = append(cs, c)
		return nil
	}
	if err := add(floorContender(n), nil); err != nil {
		return nil, err
	}
	for _, alg := range algorithms {
		c, err := groupContender(alg, n, f)
		if err := add(c, err); err != nil {
			return nil, err
		}
	}
	for _, alg := range algorithms {
		if err := add(pickerContender(alg, n), nil); err != nil {
			return nil, err
		}
	}
	if err := add(smallnestContender(n), nil); err != nil {
		return nil, err
	}
	c, err := weightedrandContender(n)
	if err := add(c, err); err != nil {
		return nil, err
	}
	if err := add(kratosContender(nameKratosWRR, wrr.NewBuilder(), n, f), nil); err != nil {
		return nil, err
	}
	if err := add(kratosContender(nameKratosP2C, p2c.NewBuilder(), n, f), nil); err != nil {
		return nil, err
	}
	if err := add(consistentContender(n), nil); err != nil {
		return nil, err
	}
	return cs, nil
}

// floorCounters are the per-backend counters of the floor, padded to a
// cache line as the group's are: a copy of the root module's
// BenchmarkBaseline.
type floorCounters struct {
	inFlight atomic.Int64
	requests atomic.Uint64
	_        [48]byte
}

// floorContender is the bookkeeping any Pick+Done must do: an atomic
// counter indexing a slice, in flight +1 and -1 and a request count on
// per-backend counters that live on their own cache lines.
func floorContender(n int) *contender {
	slots := make([]*floorCounters, n)
	for i := range slots {
		slots[i] = new(floorCounters)
	}
	next := new(paddedCounter)
	return &contender{name: nameFloor, op: func(uint64) int {
		i := next.n.Add(1) % uint64(n)
		c := slots[i]
		c.inFlight.Add(1)
		c.requests.Add(1)
		c.inFlight.Add(-1)
		return int(i)
	}}
}

// paddedCounter is the floor's shared counter, on a cache line of its own.
type paddedCounter struct {
	_ [64]byte
	n atomic.Uint64
	_ [56]byte
}

// groupContender is Pick+Done through an elb Group, with elb's public
// API alone.
func groupContender(alg string, n int, f *failure) (*contender, error) {
	c := &contender{name: groupName(alg)}
	g, err := group.New(group.Config{Name: "peers", Algorithm: alg})
	if err != nil {
		return c, err
	}
	ctx := context.Background()
	if err := g.Add(backends(n)...); err != nil {
		_ = g.Close(ctx)
		return c, err
	}
	c.op = func(seq uint64) int {
		p, err := g.Pick(ctx, groupRequests[seq&1023])
		if err != nil {
			return f.fail(err)
		}
		p.Done(nil)
		return 0
	}
	c.index = func(seq uint64) int {
		p, err := g.Pick(ctx, groupRequests[seq&1023])
		if err != nil {
			return f.fail(err)
		}
		id := p.ID()
		p.Done(nil)
		i, err := strconv.Atoi(id[1:])
		if err != nil {
			return f.fail(fmt.Errorf("backend ID %q: %w", id, err))
		}
		return i
	}
	c.close = func() { _ = g.Close(ctx) }
	return c, nil
}

// pickerContender is elb's bare picker, Pick alone: no group, no
// bookkeeping. It is built as the balancer package's benchmarks build it.
func pickerContender(alg string, n int) *contender {
	eps := make([]balancer.Endpoint, n)
	for i := range eps {
		eps[i] = balancer.Endpoint{ID: fmt.Sprintf("b%d", i), Addr: addr(i), Zone: fmt.Sprintf("az%d", i%3),
			Weight: weight(i), Load: new(balancer.Load)}
	}
	p := pickers[alg].Build(eps)
	return &contender{name: pickerName(alg), op: func(seq uint64) int { return p.Pick(pickerRequests[seq&1023]) }}
}

// smallnestContender is smallnest/weighted's smooth weighted round robin
// (nginx's algorithm, as elb's weighted_round_robin), SW.Next. SW has no
// lock and is not safe for concurrent use: the serial op calls Next
// alone, the parallel op holds a sync.Mutex around it, as a program
// sharing one SW must.
func smallnestContender(n int) *contender {
	sw := new(weighted.SW)
	for i := range n {
		sw.Add(i, weight(i))
	}
	var mu sync.Mutex
	return &contender{name: nameSmallnest,
		op: func(uint64) int { return sw.Next().(int) },
		opParallel: func(uint64) int {
			mu.Lock()
			i := sw.Next().(int)
			mu.Unlock()
			return i
		}}
}

// weightedrandContender is mroth/weightedrand's Chooser.Pick: a weighted
// random pick, binary search over the running totals, with math/rand's
// global source (per-thread since Go 1.20).
func weightedrandContender(n int) (*contender, error) {
	cs := make([]weightedrand.Choice[int, int], n)
	for i := range cs {
		cs[i] = weightedrand.NewChoice(i, weight(i))
	}
	ch, err := weightedrand.NewChooser(cs...)
	if err != nil {
		return &contender{name: nameWeightedrand}, err
	}
	return &contender{name: nameWeightedrand, op: func(uint64) int { return ch.Pick() }}, nil
}

// kratosContender is a Kratos selector built as Kratos users build one,
// from the balancer's Builder (a DefaultBuilder with its WeightedNode
// builder), given the nodes with Apply, and Select followed by the done
// function it returns.
func kratosContender(name string, b selector.Builder, n int, f *failure) *contender {
	nodes := make([]selector.Node, n)
	index := make(map[string]int, n)
	for i := range nodes {
		nodes[i] = selector.NewNode("http", addr(i), &registry.ServiceInstance{
			ID: fmt.Sprintf("b%d", i), Name: "peers",
			Metadata: map[string]string{"weight": strconv.Itoa(weight(i))},
		})
		index[addr(i)] = i
	}
	sel := b.Build()
	sel.Apply(nodes)
	ctx := context.Background()
	c := &contender{name: name}
	c.op = func(uint64) int {
		_, done, err := sel.Select(ctx)
		if err != nil {
			return f.fail(err)
		}
		done(ctx, selector.DoneInfo{})
		return 0
	}
	c.index = func(uint64) int {
		node, done, err := sel.Select(ctx)
		if err != nil {
			return f.fail(err)
		}
		done(ctx, selector.DoneInfo{})
		i, ok := index[node.Address()]
		if !ok {
			return f.fail(fmt.Errorf("selected %q, not a node", node.Address()))
		}
		return i
	}
	return c
}

// member is a buraksezer/consistent member that knows its index.
type member struct {
	name string
	i    int
}

func (m member) String() string { return m.name }

// hasher is buraksezer/consistent's Hasher: the standard library's
// hash/maphash with a fixed seed (its README suggests xxhash, a
// dependency more; both hash a short key in a few ns).
type hasher struct{ seed maphash.Seed }

func (h hasher) Sum64(b []byte) uint64 { return maphash.Bytes(h.seed, b) }

// consistentReplication is buraksezer/consistent's ReplicationFactor at
// n members: its default, 20, up to 1,000 members, and 1 above. New sorts
// the whole ring after adding each member, which takes 83 s at 10,000
// members with the default (0.7 s at 1,000). LocateKey does not read the
// ring (it hashes the key, takes it modulo the partition count and looks
// the partition's owner up in a map), so its cost does not depend on it.
func consistentReplication(n int) int {
	if n > 1000 {
		return 1
	}
	return consistent.DefaultReplicationFactor
}

// consistentPartitions is the partition count at n members: the default,
// 271, or the smallest prime above 2n when that is more (each member needs
// a partition; New panics when the bounded loads leave no room).
func consistentPartitions(n int) int {
	p := max(consistent.DefaultPartitionCount, 2*n+1)
	for !isPrime(p) {
		p++
	}
	return p
}

func isPrime(p int) bool {
	if p < 2 {
		return false
	}
	for d := 2; d*d <= p; d++ {
		if p%d == 0 {
			return false
		}
	}
	return true
}

// consistentContender is buraksezer/consistent's LocateKey: consistent
// hashing with bounded loads (load factor 1.25, the default), unweighted.
func consistentContender(n int) *contender {
	ms := make([]consistent.Member, n)
	for i := range ms {
		ms[i] = member{name: addr(i), i: i}
	}
	c := consistent.New(ms, consistent.Config{
		Hasher:            hasher{maphash.MakeSeed()},
		PartitionCount:    consistentPartitions(n),
		ReplicationFactor: consistentReplication(n),
		Load:              consistent.DefaultLoad,
	})
	return &contender{name: nameConsistent, op: func(seq uint64) int {
		return c.LocateKey(keyBytes[seq&1023]).(member).i
	}}
}
