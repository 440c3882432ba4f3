package stickytable_test

import (
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-elb/elb/internal/stickytable"
)

// benchEntries is the size of the tables of the benchmarks, and benchKeys
// their 16-byte keys.
const benchEntries = 10_000

var benchKeys = func() []string {
	keys := make([]string, benchEntries)
	for i := range keys {
		keys[i] = fmt.Sprintf("sess-%011d", i*7919) // 16 bytes
	}
	return keys
}()

// benchOrder is the order in which the benchmarks look keys up: random, as
// the sessions of requests are, rather than the order they were put in.
var benchOrder = func() []string {
	keys := append([]string(nil), benchKeys...)
	r := rand.New(rand.NewPCG(1, 2))
	r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	return keys
}()

type backend struct{ addr string }

// coarseNow is a coarse clock, as a group gives its table: an atomic that
// a timer moves every second.
var coarseNow atomic.Int64

func init() { coarseNow.Store(time.Now().Unix()) }

// BenchmarkTableGet looks up present keys, 10,000 of them in random order,
// in a Table, and for comparison in a map under a sync.RWMutex and in a
// sync.Map. hash_only is the cost of hashing the key, which a Table pays
// first.
func BenchmarkTableGet(b *testing.B) {
	v := &backend{"10.0.1.5:8080"}
	tb := mustTable(stickytable.NewTable[*backend](stickytable.TableConfig{TTL: time.Hour, MaxEntries: benchEntries, Now: coarseNow.Load}))
	var mu sync.RWMutex
	m := make(map[string]*backend, benchEntries)
	var sm sync.Map
	for _, k := range benchKeys {
		tb.Put(k, v)
		m[k] = v
		sm.Store(k, v)
	}
	seed := maphash.MakeSeed()
	impls := []struct {
		name string
		get  func(string) bool
	}{
		{"table", func(k string) bool { _, ok := tb.Get(k); return ok }},
		{"rwmutex_map", func(k string) bool {
			mu.RLock()
			_, ok := m[k]
			mu.RUnlock()
			return ok
		}},
		{"sync.Map", func(k string) bool { _, ok := sm.Load(k); return ok }},
		{"hash_only", func(k string) bool { return maphash.String(seed, k) != 0 }},
	}
	for _, impl := range impls {
		b.Run(impl.name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if !impl.get(benchOrder[i]) {
					b.Fatal("miss")
				}
				if i++; i == len(benchOrder) {
					i = 0
				}
			}
		})
		b.Run(impl.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := rand.IntN(len(benchOrder))
				for pb.Next() {
					if !impl.get(benchOrder[i]) {
						b.Error("miss")
						return
					}
					if i++; i == len(benchOrder) {
						i = 0
					}
				}
			})
		})
	}
	// One key, in cache: the cost of a Get over that of hashing.
	b.Run("table/serial_one_key", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tb.Get(benchKeys[0])
		}
	})
	// All goroutines on one key, as a hot session: no cache line is written
	// but once a second.
	b.Run("table/parallel_one_key", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				tb.Get(benchKeys[0])
			}
		})
	})
	b.Run("table/miss", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tb.Get("absent-key-00000")
		}
	})
}

// BenchmarkTablePut puts new keys into a full table, each evicting one,
// and puts the binding a key already has.
func BenchmarkTablePut(b *testing.B) {
	v := &backend{"10.0.1.5:8080"}
	b.Run("new_key_evicts", func(b *testing.B) {
		tb := mustTable(stickytable.NewTable[*backend](stickytable.TableConfig{TTL: time.Hour, MaxEntries: benchEntries, Now: coarseNow.Load}))
		keys := make([]string, 4*benchEntries)
		for i := range keys {
			keys[i] = fmt.Sprintf("flood-%010d", i)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			tb.Put(keys[i], v)
			if i++; i == len(keys) {
				i = 0
			}
		}
	})
	b.Run("same_binding", func(b *testing.B) {
		tb := mustTable(stickytable.NewTable[*backend](stickytable.TableConfig{TTL: time.Hour, MaxEntries: benchEntries, Now: coarseNow.Load}))
		for _, k := range benchKeys {
			tb.Put(k, v)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			tb.Put(benchKeys[i], v)
			if i++; i == len(benchKeys) {
				i = 0
			}
		}
	})
}

// mustTable returns t, failing on err: the configs here are valid.
func mustTable[V comparable](t *stickytable.Table[V], err error) *stickytable.Table[V] {
	if err != nil {
		panic(err)
	}
	return t
}
