// Package hash64 is the one 64-bit string hash of elb: the same value in
// every process and on every platform, so that clients that never talk to
// each other agree (consistent hashing, subsets, a retry's fallback).
package hash64

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// String hashes s: FNV-1a from the offset basis XORed with seed, then
// Mix, which spreads FNV's weak high bits. String(s, 0) is FNV-1a, mixed.
func String(s string, seed uint64) uint64 {
	h := uint64(fnvOffset) ^ seed
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return Mix(h)
}

// Mix is splitmix64's finalizer, a bijection on uint64.
func Mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
