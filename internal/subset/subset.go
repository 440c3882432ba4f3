// Package subset chooses the subset of a group's backends that one client
// uses, as group.SubsetConfig describes: by rendezvous hashing alone
// (Random: the client knows only a key of its own) or by rendezvous
// hashing with bounded loads (Balanced: every client knows its ordinal and
// the number of clients, and all of them compute the same assignment).
//
// Backends are given as keys (Key of their IDs), sorted ascending, so that
// every client sees the same list whatever order it learnt them in; the
// results are indexes into that list.
package subset

import (
	"slices"

	"github.com/go-elb/elb/internal/hash64"
)

// Key hashes s, the same way in every process.
func Key(s string) uint64 { return hash64.String(s, 0) }

// IndexKey is the key of the client with ordinal i.
func IndexKey(i int) uint64 { return hash64.Mix(uint64(i) + 0x9e3779b97f4a7c15) }

// score is client c's rendezvous score for backend b, packed with b's
// index i in the low 32 bits: a higher score ranks first, and equal
// scores rank by index (backends are sorted by key, so every client breaks
// a tie alike).
func score(c, b uint64, i int) uint64 {
	return hash64.Mix(c^b)&^0xffffffff | uint64(^uint32(i))
}

func index(s uint64) int32 { return int32(^uint32(s)) }

// Ranked returns the indexes of the n backends (all of them if n is
// larger) that client c ranks first, best first: rendezvous hashing.
func Ranked(c uint64, backends []uint64, n int) []int32 {
	n = min(n, len(backends))
	if n <= 0 {
		return nil
	}
	// A min-heap of the best n scores so far.
	top := make([]uint64, 0, n)
	for i, b := range backends {
		s := score(c, b, i)
		switch {
		case len(top) < n:
			top = append(top, s)
			up(top, len(top)-1)
		case s > top[0]:
			top[0] = s
			down(top, 0)
		}
	}
	slices.Sort(top)
	out := make([]int32, n)
	for i := range out {
		out[i] = index(top[n-1-i])
	}
	return out
}

func up(h []uint64, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if h[p] <= h[i] {
			return
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func down(h []uint64, i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		if r := l + 1; r < len(h) && h[r] < h[l] {
			l = r
		}
		if h[i] <= h[l] {
			return
		}
		h[i], h[l] = h[l], h[i]
		i = l
	}
}

// Random returns client c's subset of k backends, best ranked first: the
// k that rendezvous hashing ranks first (gRPC's A68 random subsetting).
// Adding or removing a backend changes at most one entry of a subset, and
// about k of every n subsets; but how many clients choose a backend
// follows a binomial law, not a balanced one.
func Random(c uint64, backends []uint64, k int) []int32 { return Ranked(c, backends, k) }

// SlackPercent is how far above the mean, in percent, Balanced lets the
// number of clients of a backend go.
const SlackPercent = 10

// Capacity is the most clients a backend takes in Balanced: the mean,
// clients*k/backends, plus SlackPercent, rounded to the nearest integer
// (so the bound holds within half a client) and at least the mean rounded
// up, so that every client finds its k.
func Capacity(clients, backends, k int) int {
	if backends == 0 {
		return 0
	}
	total := clients * k
	c := (2*total*(100+SlackPercent) + backends*100) / (2 * backends * 100) // round(mean * 1.1)
	return max(c, (total+backends-1)/backends)
}

// Balanced returns the subsets of the clients 0..clients-1 (client i's key
// is IndexKey(i)), each of k backends (all of them if there are fewer),
// best ranked first: rendezvous hashing with bounded loads. It takes the
// (client, backend) pairs in descending order of score and gives each
// pair's backend to its client while the client has fewer than k and the
// backend fewer than Capacity clients. The result is the one stable
// assignment of the scores (no client and backend outside each other's
// subsets both prefer each other to what they have), so every client that
// runs Balanced on the same list of backends gets the same answer; a
// backend added or removed moves few pairs, since a pair moves only along
// a chain of displaced clients that ends at the first backend with room.
//
// It costs O(clients x backends) time: each client ranks every backend.
func Balanced(backends []uint64, clients, k int) [][]int32 {
	k = min(k, len(backends))
	out := make([][]int32, clients)
	if k <= 0 || clients <= 0 {
		return out
	}
	capacity := Capacity(clients, len(backends), k)
	load := make([]int, len(backends))
	type ranking struct {
		list []int32 // the client's first len(list) backends, best first
		next int     // the next one to try
		key  uint64
	}
	rs := make([]ranking, clients)
	q := make(queue, 0, clients)
	first := min(k+k/4+4, len(backends)) // rejections are few: rank more only when needed
	for i := range rs {
		key := IndexKey(i)
		rs[i] = ranking{list: Ranked(key, backends, first), key: key}
		out[i] = make([]int32, 0, k)
		b := rs[i].list[0]
		q = append(q, pending{score(key, backends[b], int(b)), int32(i)})
	}
	for i := len(q)/2 - 1; i >= 0; i-- {
		q.down(i)
	}
	for len(q) > 0 {
		c := q[0].client
		r := &rs[c]
		b := r.list[r.next]
		r.next++
		if load[b] < capacity {
			load[b]++
			out[c] = append(out[c], b)
		}
		if len(out[c]) == k || r.next == len(backends) { // full (or, which Capacity rules out, every backend is)
			q[0] = q[len(q)-1]
			q = q[:len(q)-1]
			q.down(0)
			continue
		}
		if r.next == len(r.list) {
			r.list = Ranked(r.key, backends, min(2*len(r.list), len(backends)))
		}
		nb := r.list[r.next]
		q[0].score = score(r.key, backends[nb], int(nb))
		q.down(0)
	}
	return out
}

// pending is a client's next pair: its score and the client.
type pending struct {
	score  uint64
	client int32
}

// queue is a heap of clients by the score of their next pair, highest
// first (scores are distinct: each holds its backend's index, and each
// client's next backend differs... ties, if any, go to the lower client).
type queue []pending

func (q queue) before(i, j int) bool {
	return q[i].score > q[j].score || q[i].score == q[j].score && q[i].client < q[j].client
}

func (q queue) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(q) {
			return
		}
		if r := l + 1; r < len(q) && q.before(r, l) {
			l = r
		}
		if !q.before(l, i) {
			return
		}
		q[i], q[l] = q[l], q[i]
		i = l
	}
}
