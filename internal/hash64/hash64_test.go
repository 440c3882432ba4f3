package hash64

import "testing"

// TestStringIsFixed pins the values: subsets, hash rings and retries
// agree across processes and versions only while they stay the same.
func TestStringIsFixed(t *testing.T) {
	// FNV-1a 64's test vectors, through the finalizer.
	for s, fnv := range map[string]uint64{"": 0xcbf29ce484222325, "a": 0xaf63dc4c8601ec8c, "foobar": 0x85944171f73967e8} {
		if got, want := String(s, 0), Mix(fnv); got != want {
			t.Errorf("String(%q, 0) = %#x, want %#x", s, got, want)
		}
	}
	// A seed changes the offset basis.
	var basis uint64 = fnvOffset ^ 7
	if got, want := String("a", 7), Mix((basis^'a')*fnvPrime); got != want {
		t.Errorf(`String("a", 7) = %#x, want %#x`, got, want)
	}
	if Mix(0) != 0 || Mix(1) == 1 {
		t.Error("Mix is splitmix64's finalizer: 0 maps to 0, 1 does not stay")
	}
}
