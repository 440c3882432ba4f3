package subset

import "testing"

// BenchmarkBalanced is the cost of one client's subset in a group of 1,000
// members and 10,000 clients: every membership change pays it once.
func BenchmarkBalanced(b *testing.B) {
	keys := BackendKeys(1000, 0)
	for b.Loop() {
		Balanced(keys, 10000, 32)
	}
}

// BenchmarkRandom is the same for a client with a key alone.
func BenchmarkRandom(b *testing.B) {
	keys := BackendKeys(1000, 0)
	for b.Loop() {
		Random(1, keys, 32)
	}
}
