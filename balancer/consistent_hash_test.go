package balancer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func keyOf(k int) string { return fmt.Sprintf("key-%d", k) }

func TestConsistentHashGolden(t *testing.T) {
	// Keys must map identically in every process and every version that
	// keeps the table format: pin a few mappings.
	p := ConsistentHash{}.Build(endpoints(ones(10)...))
	got := ""
	for k := range 8 {
		got += fmt.Sprintf("%d", p.Pick(Request{Key: keyOf(k)}))
	}
	if want := "22703289"; got != want {
		t.Fatalf("keys 0..7 map to %s, want %s", got, want)
	}
}

func TestConsistentHashStableAcrossRebuilds(t *testing.T) {
	eps := endpoints(mixedWeights(50, 7)...)
	p := ConsistentHash{}.Build(eps)
	shuffled := append([]Endpoint(nil), eps...)
	rand.New(rand.NewPCG(7, 8)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	q := ConsistentHash{}.Build(shuffled)
	for k := range 20000 {
		req := Request{Key: keyOf(k)}
		if a, b := eps[p.Pick(req)].ID, shuffled[q.Pick(req)].ID; a != b {
			t.Fatalf("key %q maps to %s, after a rebuild in another order to %s", req.Key, a, b)
		}
	}
}

func TestConsistentHashRemovalMovesFewKeys(t *testing.T) {
	// 100k keys through Pick, at a size where the table used to be resized
	// by every change (99.5% of the keys moved); the mean over 3 removals
	// must stay within 1/n + 1%. TestConsistentHashTableProperties checks
	// the same promise exactly at every size, slot by slot.
	if raceEnabled {
		t.Skip("deterministic and on one goroutine: runs without -race (see .ci/run)")
	}
	const n, keys, removals = 200, 100000, 3
	eps := endpoints(ones(n)...)
	p := ConsistentHash{}.Build(eps)
	before := make([]string, keys)
	for k := range before {
		before[k] = eps[p.Pick(Request{Key: keyOf(k)})].ID
	}
	total := 0
	for r := range removals {
		r := r * n / removals
		rest := slices.Delete(slices.Clone(eps), r, r+1)
		q := ConsistentHash{}.Build(rest)
		moved := 0
		for k := range before {
			if rest[q.Pick(Request{Key: keyOf(k)})].ID != before[k] {
				moved++
			}
		}
		total += moved
		t.Logf("removing %s of %d moved %.2f%% of the keys", eps[r].ID, n, 100*float64(moved)/keys)
	}
	if mean, limit := float64(total)/removals, float64(keys)/n+keys/100; mean > limit {
		t.Fatalf("removing one of %d endpoints moved %.0f of %d keys on average, want at most %.0f", n, mean, keys, limit)
	}
}

func TestMaglevTailSearchMatchesWalk(t *testing.T) {
	// The fill searches the free slots for the last maglevTailSlots claims
	// instead of walking the permutations: the same table.
	for _, n := range []int{2, 1000} {
		eps := endpoints(mixedWeights(n, 7)...)
		o := canonicalOrder(eps)
		walked := maglevFill[uint16](eps, o, maglevFixedSize, 0)
		if searched := maglevTable[uint16](eps, o, maglevFixedSize); !slices.Equal(walked, searched) {
			t.Errorf("n=%d: the tail search fills another table than the walks", n)
		}
	}
}

// slotOwners returns, for each slot of a consistent_hash picker's table,
// universe[i] for the endpoint i it holds: the owners of pickers built
// from different slices compare slot by slot.
func slotOwners(t *testing.T, p Picker, universe []int32) []int32 {
	t.Helper()
	var out, perm []int32
	conv := func(i int, k int) { out[i] = universe[perm[k]] }
	switch p := p.(type) {
	case *maglevPicker[uint8]:
		out, perm = make([]int32, len(p.table)), p.perm
		for i, x := range p.table {
			conv(i, int(x))
		}
	case *maglevPicker[uint16]:
		out, perm = make([]int32, len(p.table)), p.perm
		for i, x := range p.table {
			conv(i, int(x))
		}
	case *maglevPicker[uint32]:
		out, perm = make([]int32, len(p.table)), p.perm
		for i, x := range p.table {
			conv(i, int(x))
		}
	default:
		t.Fatalf("picker %T is not a Maglev table", p)
	}
	return out
}

// movedSlots returns the fraction of slots whose owners differ, and of
// those moved between two owners that are both not ex.
func movedSlots(a, b []int32, ex int32) (moved, others float64) {
	if len(a) != len(b) {
		return 1, 1 // another table size maps keys to other slots
	}
	var m, o int
	for s := range a {
		if a[s] != b[s] {
			m++
			if a[s] != ex && b[s] != ex {
				o++
			}
		}
	}
	return float64(m) / float64(len(a)), float64(o) / float64(len(a))
}

// TestConsistentHashTableProperties checks, exactly, by comparing tables
// slot by slot (a slot's share of the key space is 1/M), what the docs
// promise at every size up to 10,000 endpoints: one removal or addition
// moves at most 1/n + 1% of the keys; a weight change moves at most 1%
// of the keys between two other endpoints; equal weights get shares
// within 2% (max/mean); a health flip (out, then back in, in another
// order) restores every slot; Pick does not allocate.
//
// The tables are deterministic: under -race, which makes each size cost
// half a second and finds nothing in the comparisons, three sizes (one
// endpoint, a uint8 table, a uint16 one) build tables in parallel through
// the shared table cache; .ci/run checks every size without -race.
func TestConsistentHashTableProperties(t *testing.T) {
	sizes := []int{1, 2, 3, 10, 100, 164, 500, 1000, 10000}
	if raceEnabled {
		sizes = []int{1, 3, 1000}
	}
	pickers := make([]Picker, len(sizes)) // for the allocation check
	t.Run("sizes", func(t *testing.T) {
		for i, n := range sizes {
			t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
				t.Parallel()
				eps := endpoints(ones(n + 1)...) // the last one is added
				universe := make([]int32, n+1)
				for i := range universe {
					universe[i] = int32(i)
				}
				p := ConsistentHash{}.Build(eps[:n])
				pickers[i] = p
				base := slotOwners(t, p, universe)

				counts := make([]int, n)
				for _, o := range base {
					counts[o]++
				}
				if mx := slices.Max(counts); float64(mx) > 1.02*float64(len(base))/float64(n) {
					t.Errorf("shares: the largest is %d slots of %d, %.4f x the mean, want <= 1.02", mx, len(base), float64(mx)*float64(n)/float64(len(base)))
				}
				added := slotOwners(t, ConsistentHash{}.Build(eps), universe)
				if moved, _ := movedSlots(base, added, int32(n)); moved > 1/float64(n+1)+0.01 {
					t.Errorf("adding one to %d endpoints moved %.3f%% of the keys, want at most 1/%d + 1%%", n, 100*moved, n+1)
				}
				if n == 1 {
					return
				}

				for k, r := range []int{0, n / 2} {
					if k > 0 && r == 0 {
						break
					}
					rest := slices.Delete(slices.Clone(eps[:n]), r, r+1)
					restU := slices.Delete(slices.Clone(universe[:n]), r, r+1)
					after := slotOwners(t, ConsistentHash{}.Build(rest), restU)
					moved, _ := movedSlots(base, after, int32(r))
					if limit := 1/float64(n) + 0.01; moved > limit {
						t.Errorf("removing %s of %d moved %.3f%% of the keys, want at most %.3f%%", eps[r].ID, n, 100*moved, 100*limit)
					}
					if k == 0 { // and back, appended: the table must be the same
						back := append(rest, eps[r])
						backU := append(restU, int32(r))
						if flip := slotOwners(t, ConsistentHash{}.Build(back), backU); !slices.Equal(flip, base) {
							moved, _ := movedSlots(base, flip, -1)
							t.Errorf("%s out and back in: %.3f%% of the keys did not come back", eps[r].ID, 100*moved)
						}
					}
				}

				heavier := slices.Clone(eps[:n])
				heavier[n/3].Weight = 3
				after := slotOwners(t, ConsistentHash{}.Build(heavier), universe)
				if _, others := movedSlots(base, after, int32(n/3)); others > 0.01 {
					t.Errorf("weight 1 -> 3 of %s of %d moved %.3f%% of the keys between other endpoints, want at most 1%%", eps[n/3].ID, n, 100*others)
				}
			})
		}
	})
	for i, p := range pickers {
		for _, req := range []Request{{Key: "user-1"}, {}} {
			if p == nil {
				continue
			}
			if a := testing.AllocsPerRun(100, func() { p.Pick(req) }); a != 0 {
				t.Errorf("n=%d: Pick(%+v) allocates %v times", sizes[i], req, a)
			}
		}
	}
}

func TestConsistentHashEvenDistribution(t *testing.T) {
	const n, keys = 100, 100000
	p := ConsistentHash{}.Build(endpoints(ones(n)...))
	counts := make([]float64, n)
	for k := range keys {
		counts[p.Pick(Request{Key: keyOf(k)})]++
	}
	mean := float64(keys) / n
	var ss float64
	for _, c := range counts {
		ss += (c - mean) * (c - mean)
	}
	// Binomial noise alone is sqrt(1000)/1000 = 3.2%; measured 3.3%.
	rsd := math.Sqrt(ss/n) / mean
	if rsd > 0.05 {
		t.Fatalf("relative stddev of per-endpoint keys %.2f%%, want < 5%%", rsd*100)
	}
	t.Logf("relative stddev of keys per endpoint over %d endpoints: %.2f%%", n, rsd*100)
}

func TestConsistentHashWeightedSlots(t *testing.T) {
	// Weights 1-50, and the same scaled by slow start's percent (the group
	// balances weight x percent: up to 10,000) next to one endpoint that
	// has just started its ramp (weight 3 at 1%): each gets a share of the
	// slots proportional to its weight, within 1% and one slot.
	for _, c := range []struct {
		n     int
		ws    []int
		scale int
	}{
		{1, []int{1, 2, 3, 4, 10, 30, 50}, 1},
		{100, []int{1, 2, 3, 4, 10, 30, 50}, 1},
		{5000, []int{1, 2, 3, 4, 10, 30, 50}, 1},
		{100, []int{3, 100, 200, 300, 400, 1000, 3000, 5000, 10000}, 100},
	} {
		eps := endpoints(c.ws...)
		if pad := c.n - len(eps); pad > 0 { // weight 1, scaled
			for _, e := range endpoints(ones(pad)...) {
				e.ID = "pad-" + e.ID
				e.Weight = c.scale
				eps = append(eps, e)
			}
		}
		m := maglevSize(len(eps))
		o := canonicalOrder(eps)
		table := maglevTable[uint16](eps, o, m)
		counts := make([]int, len(eps))
		for _, k := range table {
			counts[o.order[k]]++
		}
		total := 0
		for i := range eps {
			total += eps[i].Weight
		}
		for i, w := range c.ws {
			want := float64(m) * float64(w) / float64(total)
			if d := math.Abs(float64(counts[i]) - want); d > 1+want/100 {
				t.Errorf("%d endpoints: weight %d of %d got %d slots, want %.1f", len(eps), w, total, counts[i], want)
			}
		}
	}
}

func TestConsistentHashEmptyKeyIsWeightedRandom(t *testing.T) {
	p := ConsistentHash{}.Build(endpoints(1, 3))
	const picks = 40000
	var c [2]int
	for range picks {
		c[p.Pick(Request{})]++
	}
	if share := float64(c[1]) / picks; math.Abs(share-0.75) > 0.02 {
		t.Fatalf("empty key: weight-3 endpoint got %.3f of picks, want 0.75", share)
	}
}

func TestSourceIPHash(t *testing.T) {
	eps := endpoints(ones(50)...)
	p := ConsistentHash{SourceIP: true}.Build(eps)
	alike := [][]string{
		{"10.1.2.3:1000", "10.1.2.3:2000", "10.1.2.3", "::ffff:10.1.2.3", "[::ffff:10.1.2.3]:80"},
		{"2001:db8::1", "[2001:db8::1]:443", "2001:DB8:0:0:0:0:0:1", "[2001:0db8::0001]:80", "2001:db8::1%eth0", "[2001:db8::1%eth0]:8080"},
	}
	for _, group := range alike {
		want := p.Pick(Request{Source: group[0]})
		for _, s := range group[1:] {
			if got := p.Pick(Request{Source: s}); got != want {
				t.Errorf("source %q maps to %d, %q to %d", group[0], want, s, got)
			}
		}
	}
	// The key is ignored; distinct addresses spread.
	seen := map[int]bool{}
	for i := range 1000 {
		src := fmt.Sprintf("192.168.%d.%d:5555", i/256, i%256)
		a := p.Pick(Request{Source: src, Key: "x"})
		if b := p.Pick(Request{Source: src, Key: "y"}); a != b {
			t.Fatalf("source %q maps to %d and %d with different keys", src, a, b)
		}
		seen[a] = true
	}
	if len(seen) < 45 {
		t.Fatalf("1000 addresses reach only %d of 50 endpoints", len(seen))
	}
	// Non-addresses hash as strings, deterministically.
	for _, s := range []string{"host.example:80", "cafe:80", "1.2.3", "[::1", "::1]:80"} {
		if a, b := p.Pick(Request{Source: s}), p.Pick(Request{Source: s}); a != b {
			t.Errorf("source %q maps to %d, then %d", s, a, b)
		}
	}
}

func TestConsistentHashPickDoesNotAllocate(t *testing.T) {
	for _, n := range []int{3, 1000} {
		pk := ConsistentHash{}.Build(endpoints(ones(n)...))
		ps := ConsistentHash{SourceIP: true}.Build(endpoints(ones(n)...))
		for _, req := range []Request{
			{Key: "user-1"}, {},
		} {
			if a := testing.AllocsPerRun(100, func() { pk.Pick(req) }); a != 0 {
				t.Errorf("n=%d: Pick(%+v) allocates %v times", n, req, a)
			}
		}
		for _, src := range []string{"10.1.2.3:1000", "10.1.2.3", "[2001:db8::1]:443", "2001:db8::1", "fe80::1%eth0", "[fe80::1%eth0]:80", "host.example:80", "cafe:80", "1.2.3", ""} {
			if a := testing.AllocsPerRun(100, func() { ps.Pick(Request{Source: src}) }); a != 0 {
				t.Errorf("n=%d: source_ip Pick(%q) allocates %v times", n, src, a)
			}
		}
	}
}

// FuzzValidIP checks that validIP agrees with netip.ParseAddr on zone-less
// text; go test runs the seeds, go test -fuzz explores.
func FuzzValidIP(f *testing.F) {
	for _, s := range []string{
		"", "1.2.3.4", "255.255.255.255", "256.1.1.1", "01.2.3.4", "0.0.0.0", "1.2.3", "1.2.3.4.5", "1..2.3", ".1.2.3", "1.2.3.",
		"::", "::1", "1::", "1::2", "2001:db8::1", "2001:DB8:0:0:0:0:0:1", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::",
		"1:2:3:4:5:6:7:8::", "::ffff:1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4", "::1.2.3.4", "1::1.2.3.4", "12345::1",
		"1:::2", "1::2::3", ":1", "1:", ":", ":::", "g::1", "1.2.3.4:80", "cafe", "cafe:80", "::ffff:01.2.3.4", "1::2:", "[::1]", "1a.2.3.4", "::1.2.3",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.IndexByte(s, '%') >= 0 {
			return
		}
		_, err := netip.ParseAddr(s)
		if got, want := validIP(s), err == nil; got != want {
			t.Fatalf("validIP(%q) = %v, netip.ParseAddr error %v", s, got, err)
		}
	})
}

func TestValidIPAgreesWithNetip(t *testing.T) {
	if raceEnabled {
		t.Skip("deterministic and on one goroutine: runs without -race (see .ci/run)")
	}
	r := rand.New(rand.NewPCG(9, 10))
	const alphabet = "0123456789abcdefABCDEFg.:"
	b := make([]byte, 0, 48)
	for range 300000 {
		b = b[:0]
		for range r.IntN(40) {
			// Favour the shapes of real addresses.
			switch r.IntN(4) {
			case 0:
				b = append(b, ':')
			case 1:
				b = append(b, '.')
			default:
				b = append(b, alphabet[r.IntN(len(alphabet))])
			}
		}
		s := string(b)
		_, err := netip.ParseAddr(s)
		if got, want := validIP(s), err == nil; got != want {
			t.Fatalf("validIP(%q) = %v, netip.ParseAddr error %v", s, got, err)
		}
	}
}

func TestHashSourceIPv4FastPath(t *testing.T) {
	// The IPv4 fast path hashes exactly as the netip path for the same
	// address in IPv4-mapped IPv6 form.
	for _, s := range []string{"0.0.0.0", "1.2.3.4", "10.1.2.3", "255.255.255.255", "192.168.100.7"} {
		if a, b := hashSource(s), hashSource("::ffff:"+s); a != b {
			t.Errorf("%s hashes to %#x, ::ffff:%s to %#x", s, a, s, b)
		}
		v, ok := parseIPv4(s)
		if want := netip.MustParseAddr(s).As4(); !ok || v != uint32(want[0])<<24|uint32(want[1])<<16|uint32(want[2])<<8|uint32(want[3]) {
			t.Errorf("parseIPv4(%q) = %#x, %v; want %v", s, v, ok, want)
		}
	}
}
