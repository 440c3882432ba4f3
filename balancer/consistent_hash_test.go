package balancer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

func keyOf(k int) string { return fmt.Sprintf("key-%d", k) }

func TestHashStringIsFNV1aThenSplitmix(t *testing.T) {
	// FNV-1a 64 test vectors, through the finalizer.
	for s, fnv := range map[string]uint64{"": 0xcbf29ce484222325, "a": 0xaf63dc4c8601ec8c, "foobar": 0x85944171f73967e8} {
		if got, want := hashString(s, 0), mix64(fnv); got != want {
			t.Errorf("hashString(%q) = %#x, want %#x", s, got, want)
		}
	}
}

func TestConsistentHashGolden(t *testing.T) {
	// Keys must map identically in every process and every version that
	// keeps the table format: pin a few mappings.
	p := ConsistentHash{}.Build(endpoints(ones(10)...))
	got := ""
	for k := range 8 {
		got += fmt.Sprintf("%d", p.Pick(Request{Key: keyOf(k)}))
	}
	if want := "83429750"; got != want {
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
	const n, keys = 10, 100000
	eps := endpoints(ones(n)...)
	p := ConsistentHash{}.Build(eps)
	before := make([]string, keys)
	for k := range before {
		before[k] = eps[p.Pick(Request{Key: keyOf(k)})].ID
	}
	for r := range n {
		rest := append(append([]Endpoint(nil), eps[:r]...), eps[r+1:]...)
		q := ConsistentHash{}.Build(rest)
		moved := 0
		for k := range before {
			if rest[q.Pick(Request{Key: keyOf(k)})].ID != before[k] {
				moved++
			}
		}
		if limit := keys/n + keys/100; moved > limit {
			t.Errorf("removing %s of %d moved %d of %d keys, want at most %d", eps[r].ID, n, moved, keys, limit)
		}
		t.Logf("removing %s of %d moved %.2f%% of the keys", eps[r].ID, n, 100*float64(moved)/keys)
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
	ws := []int{1, 2, 3, 4, 10, 30, 50}
	eps := endpoints(ws...)
	for _, n := range []int{1, 100, 5000} {
		eps := eps
		if pad := n - len(eps); pad > 0 { // weight-1 endpoints
			for _, e := range endpoints(ones(pad)...) {
				e.ID = "pad-" + e.ID
				eps = append(eps, e)
			}
		}
		m := maglevSize(len(eps))
		table := maglevTable[uint16](eps, m)
		counts := make([]int, len(eps))
		for _, i := range table {
			counts[i]++
		}
		total := 0
		for i := range eps {
			total += eps[i].Weight
		}
		for i, w := range ws {
			want := float64(m) * float64(w) / float64(total)
			if d := math.Abs(float64(counts[i]) - want); d > 1+want/100 {
				t.Errorf("%d endpoints: weight %d got %d slots, want %.1f", len(eps), w, counts[i], want)
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
