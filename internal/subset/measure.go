package subset

import (
	"fmt"
	"slices"

	"github.com/go-elb/elb/balancer"
)

// Scheme chooses the subsets of clients 0..clients-1 over backends.
type Scheme struct {
	Name   string
	Assign func(backends []uint64, clients, k int) [][]int32
}

// Schemes are the two schemes a group offers: Balanced (SubsetConfig with
// ClientIndex and ClientCount) and Random (a client key alone; here client
// i's key is IndexKey(i), as random as any).
var Schemes = []Scheme{
	{"balanced", Balanced},
	{"random", func(backends []uint64, clients, k int) [][]int32 {
		out := make([][]int32, clients)
		for i := range out {
			out[i] = Random(IndexKey(i), backends, k)
		}
		return out
	}},
}

// Others are schemes a group does not offer, measured for comparison:
// a ring of the backends in key order with clients spread evenly over it,
// each taking the k backends from its place on (deterministic aperture,
// as Finagle's, without its fractional weights), and the SRE book's
// deterministic subsetting (rounds of B/k clients, each round a shuffle
// of the backends cut into B/k subsets).
var Others = []Scheme{
	{"aperture", func(backends []uint64, clients, k int) [][]int32 {
		n := len(backends)
		k = min(k, n)
		out := make([][]int32, clients)
		for i := range out {
			start := i * n / clients
			for j := range k {
				out[i] = append(out[i], int32((start+j)%n))
			}
		}
		return out
	}},
	{"sre", func(backends []uint64, clients, k int) [][]int32 {
		n := len(backends)
		k = min(k, n)
		count := max(n/k, 1) // subsets a round
		out := make([][]int32, clients)
		var order []int32
		for i := range out {
			round := i / count
			if i%count == 0 { // a new round: shuffle, seeded by the round
				order = Ranked(IndexKey(round), backends, n)
			}
			id := i % count
			out[i] = slices.Clone(order[id*k : id*k+k])
		}
		return out
	}},
}

// Figures are what Measure finds for one scheme and size.
type Figures struct {
	Scheme                string
	Clients, Backends, K  int
	ConnMax, ConnMin      float64 // per-backend client counts over their mean
	ShareMax, ShareMin    float64 // per-backend requests (weighted_round_robin) over their mean
	Changes               int     // membership changes measured: backends added, then removed
	MovedTotal, MovedMax  int     // pairs moved: the largest total of one change, the most of one client
	MovedMean, IdealMoved float64 // the mean total of a change; clients*k/backends
}

// BackendKeys returns the sorted keys of n backends with IDs like
// "10.0.3.7:8080", starting at the from'th.
func BackendKeys(n, from int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		j := i + from
		out[i] = Key(fmt.Sprintf("10.%d.%d.%d:8080", j/65536, j/256%256, j%256))
	}
	slices.Sort(out)
	return out
}

// Measure assigns subsets of k of backends to clients with s, and measures
// the connection spread; the request spread when each client sends
// perClient requests with weighted_round_robin over its subset (equal
// weights); and the pairs moved by each of changes backends added (one at
// a time, to the first list) and as many removed.
func Measure(s Scheme, clients, backends, k, perClient, changes int) Figures {
	f := Figures{Scheme: s.Name, Clients: clients, Backends: backends, K: k, Changes: 2 * changes}
	keys := BackendKeys(backends, 0)
	subs := s.Assign(keys, clients, k)
	conns := make([]int, backends)
	reqs := make([]int, backends)
	wrr, _ := balancer.Get(balancer.NameWeightedRoundRobin)
	for _, sub := range subs {
		eps := make([]balancer.Endpoint, len(sub))
		for i, b := range sub {
			conns[b]++
			eps[i] = balancer.Endpoint{ID: fmt.Sprint(b), Weight: 1}
		}
		p := wrr.Build(eps)
		for range perClient {
			reqs[sub[p.Pick(balancer.Request{})]]++
		}
	}
	f.ConnMax, f.ConnMin = spread(conns)
	f.ShareMax, f.ShareMin = spread(reqs)
	f.IdealMoved = float64(clients*k) / float64(backends)
	total := 0
	for c := range 2 * changes {
		var next []uint64
		if c < changes { // add the c'th new backend
			next = append(BackendKeys(1, backends+c), keys...)
			slices.Sort(next)
		} else { // remove one, spread over the list
			i := (c - changes) * backends / changes
			next = slices.Delete(slices.Clone(keys), i, i+1)
		}
		moved, most := Moved(keys, subs, next, s.Assign(next, clients, k))
		total += moved
		f.MovedTotal, f.MovedMax = max(f.MovedTotal, moved), max(f.MovedMax, most)
	}
	if changes > 0 {
		f.MovedMean = float64(total) / float64(2*changes)
	}
	return f
}

// Moved counts the pairs of subs (over keys) that next (over nextKeys)
// does not hold: in all, and the most of one client.
func Moved(keys []uint64, subs [][]int32, nextKeys []uint64, next [][]int32) (total, most int) {
	for i := range subs {
		n := 0
		for _, b := range subs[i] {
			if !slices.ContainsFunc(next[i], func(x int32) bool { return nextKeys[x] == keys[b] }) {
				n++
			}
		}
		total += n
		most = max(most, n)
	}
	return total, most
}

// spread returns the largest and smallest of counts over their mean.
func spread(counts []int) (hi, lo float64) {
	sum := 0
	for _, c := range counts {
		sum += c
	}
	if sum == 0 {
		return 0, 0
	}
	mean := float64(sum) / float64(len(counts))
	return float64(slices.Max(counts)) / mean, float64(slices.Min(counts)) / mean
}

// Row formats f as a row of the README's table.
func (f Figures) Row() string {
	return fmt.Sprintf("| %s | %d | %d | %d | %.3f (min %.2f) | %.3f (min %.2f) | %.1f (ideal %.1f), at most %d per client |",
		f.Scheme, f.Clients, f.Backends, f.K, f.ConnMax, f.ConnMin, f.ShareMax, f.ShareMin, f.MovedMean, f.IdealMoved, f.MovedMax)
}

// Header is the README table's header.
const Header = "| scheme | clients | backends | subset | connections max/mean | requests max/mean (weighted_round_robin) | pairs moved per membership change |\n|---|---|---|---|---|---|---|"
