package subset

import (
	"math"
	"slices"
	"testing"
)

// The README's figures, asserted: 300 clients x 300 backends with subsets
// of 10 and 30.
func TestFiguresSmall(t *testing.T) {
	for _, k := range []int{10, 30} {
		b := Measure(Schemes[0], 300, 300, k, 300, 3)
		r := Measure(Schemes[1], 300, 300, k, 300, 3)
		t.Log(b.Row())
		t.Log(r.Row())
		if b.ConnMax > 1.10 || b.ShareMax > 1.15 {
			t.Errorf("balanced k=%d: connections max/mean %.3f (want <= 1.10), requests %.3f (want <= 1.15)", k, b.ConnMax, b.ShareMax)
		}
		if r.ConnMax < 1.3 {
			t.Errorf("random k=%d: connections max/mean %.3f: the binomial spread should show (>= 1.3)", k, r.ConnMax)
		}
		if r.MovedMax > 1 {
			t.Errorf("random k=%d: %d pairs of one client moved by one change, want <= 1", k, r.MovedMax)
		}
		// Balanced moves chains of pairs: at these small means (10 and 30
		// clients a backend, capacity 11 and 33, so many backends full),
		// a few of one client, and in all within 1.6 times the ideal.
		if b.MovedMax > 4 || b.MovedMean > 1.6*b.IdealMoved {
			t.Errorf("balanced k=%d: moved %.1f pairs a change (ideal %.1f), at most %d of one client", k, b.MovedMean, b.IdealMoved, b.MovedMax)
		}
	}
}

// 10,000 clients x 1,000 backends, subsets of 32: the spread, and one
// backend added or removed moves about clients x k / backends pairs in
// all, one of a client (two, rarely: see the README).
func TestFiguresLarge(t *testing.T) {
	if raceEnabled {
		t.Skip("one assignment takes seconds under the race detector; it has no concurrency to check")
	}
	const changes = 1
	f := Measure(Schemes[0], 10000, 1000, 32, 64, changes)
	t.Log(f.Row())
	if f.ConnMax > 1.10 || f.ShareMax > 1.15 {
		t.Errorf("connections max/mean %.3f (want <= 1.10), requests %.3f (want <= 1.15)", f.ConnMax, f.ShareMax)
	}
	if f.MovedMax > 2 || f.MovedMean > 1.1*f.IdealMoved {
		t.Errorf("moved %.1f pairs a change (want <= 1.1 x %.1f), at most %d of one client (want <= 2)", f.MovedMean, f.IdealMoved, f.MovedMax)
	}
}

// Every client gets min(k, n) distinct backends, no backend more than
// Capacity clients, at every size; and the answer is the same each time.
func TestBalancedAtEverySize(t *testing.T) {
	for _, n := range []int{1, 2, 3, 10, 100, 164, 500, 1000, 10000} {
		for _, clients := range []int{1, 7, 300} {
			for _, k := range []int{1, 3, 10, 32} {
				if n*clients > 1_000_000 && (k != 10 || raceEnabled) {
					continue
				}
				keys := BackendKeys(n, 0)
				subs := Balanced(keys, clients, k)
				load := make([]int, n)
				for c, s := range subs {
					want := min(k, n)
					if len(s) != want {
						t.Fatalf("n=%d clients=%d k=%d: client %d has %d backends, want %d", n, clients, k, c, len(s), want)
					}
					seen := map[int32]bool{}
					for _, b := range s {
						if seen[b] || b < 0 || int(b) >= n {
							t.Fatalf("n=%d clients=%d k=%d: client %d: backend %d twice or out of range", n, clients, k, c, b)
						}
						seen[b] = true
						load[b]++
					}
				}
				if got, cap := slices.Max(load), Capacity(clients, n, min(k, n)); got > cap {
					t.Errorf("n=%d clients=%d k=%d: a backend has %d clients, capacity %d", n, clients, k, got, cap)
				}
				again := Balanced(keys, clients, k)
				for c := range subs {
					if !slices.Equal(subs[c], again[c]) {
						t.Fatalf("n=%d clients=%d k=%d: client %d: %v, then %v", n, clients, k, c, subs[c], again[c])
					}
				}
			}
		}
	}
}

// Capacity: the mean plus 10%, rounded, never below the mean rounded up.
func TestCapacity(t *testing.T) {
	for _, tc := range []struct{ clients, backends, k, want int }{
		{300, 300, 10, 11}, {300, 300, 30, 33}, {10000, 1000, 32, 352},
		{1, 1, 1, 1}, {1, 3, 1, 1}, {7, 2, 2, 8}, {3, 2, 1, 2}, {1, 0, 1, 0},
	} {
		if got := Capacity(tc.clients, tc.backends, tc.k); got != tc.want {
			t.Errorf("Capacity(%d, %d, %d) = %d, want %d", tc.clients, tc.backends, tc.k, got, tc.want)
		}
	}
	// What group.SubsetConfig promises of it: at most 10% and half a
	// client above the mean, except where the mean is below 5 and not
	// whole, where it is the mean rounded up.
	for clients := 1; clients <= 300; clients++ {
		for _, backends := range []int{1, 2, 3, 5, 10, 100, 164, 500, 1000} {
			for _, k := range []int{1, 3, 10, 32} {
				k := min(k, backends)
				mean := float64(clients*k) / float64(backends)
				got := Capacity(clients, backends, k)
				if got*backends < clients*k {
					t.Fatalf("Capacity(%d, %d, %d) = %d: too few places", clients, backends, k, got)
				}
				if float64(got) > 1.1*mean+0.5 && (mean >= 5 || got != int(math.Ceil(mean))) {
					t.Fatalf("Capacity(%d, %d, %d) = %d, mean %.2f: above the bound", clients, backends, k, got, mean)
				}
			}
		}
	}
}

// Ranked is the order of a full sort by score, ties by index.
func TestRanked(t *testing.T) {
	for _, n := range []int{1, 2, 3, 10, 100, 1000} {
		keys := BackendKeys(n, 0)
		full := Ranked(42, keys, n)
		want := make([]int32, n)
		for i := range want {
			want[i] = int32(i)
		}
		slices.SortFunc(want, func(a, b int32) int {
			sa, sb := score(42, keys[a], int(a)), score(42, keys[b], int(b))
			switch {
			case sa > sb:
				return -1
			case sa < sb:
				return 1
			}
			return 0
		})
		if !slices.Equal(full, want) {
			t.Fatalf("n=%d: Ranked %v, want %v", n, full, want)
		}
		for _, k := range []int{0, 1, min(3, n), n} {
			if got := Ranked(42, keys, k); !slices.Equal(got, want[:k]) {
				t.Fatalf("n=%d k=%d: %v, want %v", n, k, got, want[:k])
			}
		}
	}
}
