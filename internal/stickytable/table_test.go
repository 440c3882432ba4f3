package stickytable

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb"
	"github.com/go-elb/elb/sticky"
)

// testClock is a settable coarse clock, in Unix seconds.
type testClock struct{ atomic.Int64 }

func (c *testClock) advance(d time.Duration) { c.Add(int64(d / time.Second)) }

func newTestTable[V comparable](t testing.TB, ttl time.Duration, maxEntries int) (*Table[V], *testClock) {
	t.Helper()
	clk := new(testClock)
	clk.Store(1_750_000_000)
	tb := mustTable(NewTable[V](TableConfig{TTL: ttl, MaxEntries: maxEntries, Now: clk.Load}))
	t.Cleanup(func() { checkTable(t, tb) })
	return tb, clk
}

// checkTable checks the invariants of tb: every entry on the eviction line
// is found in the slots, once, and the counts add up.
func checkTable[V comparable](t testing.TB, tb *Table[V]) {
	t.Helper()
	tb.mu.Lock()
	defer tb.mu.Unlock()
	s := tb.slots.Load()
	live, tombs := 0, 0
	for i := range s.s {
		switch e := s.s[i].Load(); {
		case e == nil:
		case e == tb.tomb:
			tombs++
		default:
			live++
			require.Same(t, e, s.find(e.hash, e.key), "entry %q is found from its slot, and only once", e.key)
		}
	}
	onLine := 0
	var prev *entry[V]
	for e := tb.head; e != nil; e = e.next {
		require.Same(t, prev, e.prev)
		require.Same(t, e, s.find(e.hash, e.key), "entry %q on the line is in the slots", e.key)
		prev = e
		onLine++
	}
	require.Same(t, prev, tb.tail)
	require.Equal(t, live, onLine, "entries in slots and on the line")
	require.Equal(t, live, tb.Len())
	require.Equal(t, tombs, tb.tombs)
	require.LessOrEqual(t, int64(live), tb.max)
	require.LessOrEqual(t, live+tombs, tb.limit)
}

func get[V comparable](tb *Table[V], key string) any {
	if v, ok := tb.Get(key); ok {
		return v
	}
	return nil
}

func TestTableGetPutReplaceDelete(t *testing.T) {
	tb, _ := newTestTable[int](t, time.Hour, 100)
	v, ok := tb.Get("a")
	assert.False(t, ok)
	assert.Zero(t, v)

	tb.Put("a", 1)
	tb.Put("b", 2)
	assert.Equal(t, 1, get(tb, "a"))
	assert.Equal(t, 2, get(tb, "b"))
	assert.Equal(t, 2, tb.Len())

	tb.Put("a", 3) // a rebind
	assert.Equal(t, 3, get(tb, "a"))
	assert.Equal(t, 2, tb.Len())
	tb.Put("a", 3) // the same binding
	assert.Equal(t, 2, tb.Len())

	tb.Delete("a")
	assert.Nil(t, get(tb, "a"))
	assert.Equal(t, 2, get(tb, "b"))
	assert.Equal(t, 1, tb.Len())
	tb.Delete("a")
	tb.Delete("nothing")
	assert.Equal(t, 1, tb.Len())

	tb.Put("a", 4) // again, in the tombstone
	assert.Equal(t, 4, get(tb, "a"))
	assert.Equal(t, 2, tb.Len())
}

func TestTableTTL(t *testing.T) {
	tb, clk := newTestTable[int](t, time.Minute, 100)
	tb.Put("idle", 1)
	tb.Put("used", 2)
	for range 5 { // used every 59s: it lives on
		clk.advance(59 * time.Second)
		assert.Equal(t, 2, get(tb, "used"))
	}
	assert.Nil(t, get(tb, "idle"), "expired a TTL after it was put")
	assert.Equal(t, 2, tb.Len(), "expired but not yet swept")

	clk.advance(59 * time.Second)
	assert.Equal(t, 2, get(tb, "used"))
	clk.advance(time.Minute)
	assert.Nil(t, get(tb, "used"), "expired a TTL after its last use")
	last := tb.slots.Load().find(tb.hash("used"), "used").lastUse.Load()
	clk.advance(time.Hour)
	assert.Nil(t, get(tb, "used"))
	assert.Equal(t, last, tb.slots.Load().find(tb.hash("used"), "used").lastUse.Load(), "a miss is not a use")

	tb.Put("used", 3) // an expired key is bound anew
	assert.Equal(t, 3, get(tb, "used"))
	tb.Sweep() // unless Put dropped "idle" on its way
	assert.Equal(t, 1, tb.Len())
}

func TestTablePutRefreshes(t *testing.T) {
	tb, clk := newTestTable[int](t, time.Minute, 100)
	tb.Put("k", 1)
	clk.advance(50 * time.Second)
	tb.Put("k", 1) // the same binding: a use
	clk.advance(50 * time.Second)
	assert.Equal(t, 1, get(tb, "k"))
}

func TestTableSweep(t *testing.T) {
	tb, clk := newTestTable[int](t, time.Minute, 100)
	assert.Zero(t, tb.Sweep())
	for i := range 10 {
		tb.Put(strconv.Itoa(i), i)
	}
	clk.advance(30 * time.Second)
	for i := range 3 {
		get(tb, strconv.Itoa(i))
	}
	assert.Zero(t, tb.Sweep())
	clk.advance(30 * time.Second) // 3..9 expire now
	assert.Equal(t, 7, tb.Sweep())
	assert.Equal(t, 3, tb.Len())
	for i := range 3 {
		assert.Equal(t, i, get(tb, strconv.Itoa(i)))
	}
	assert.Zero(t, tb.Sweep())
	clk.advance(time.Hour)
	assert.Equal(t, 3, tb.Sweep())
	assert.Zero(t, tb.Len())
}

func TestTableSweepLarge(t *testing.T) { // several chunks, and a rebuild
	tb, clk := newTestTable[int](t, time.Minute, 20_000)
	for i := range 20_000 {
		tb.Put(strconv.Itoa(i), i)
	}
	clk.advance(30 * time.Second)
	for i := 0; i < 20_000; i += 2 {
		get(tb, strconv.Itoa(i))
	}
	clk.advance(30 * time.Second)
	assert.Equal(t, 10_000, tb.Sweep())
	assert.Equal(t, 10_000, tb.Len())
	assert.Zero(t, tb.tombs, "many tombstones: rebuilt")
	for i := range 20_000 {
		if i%2 == 0 {
			require.Equal(t, i, get(tb, strconv.Itoa(i)))
		} else {
			require.Nil(t, get(tb, strconv.Itoa(i)))
		}
	}
}

func TestTableEvictsOldest(t *testing.T) {
	const maxEntries, n = 1000, 5000
	tb, _ := newTestTable[int](t, time.Hour, maxEntries)
	for i := range n {
		tb.Put(strconv.Itoa(i), i)
		require.LessOrEqual(t, tb.Len(), maxEntries)
	}
	assert.Equal(t, maxEntries, tb.Len())
	for i := range n {
		if i < n-maxEntries {
			require.Nil(t, get(tb, strconv.Itoa(i)), "key %d was evicted", i)
		} else {
			require.Equal(t, i, get(tb, strconv.Itoa(i)), "key %d is kept", i)
		}
	}
}

func TestTableRebindMovesToBack(t *testing.T) {
	tb, _ := newTestTable[int](t, time.Hour, 3)
	tb.Put("a", 1)
	tb.Put("b", 1)
	tb.Put("c", 1)
	tb.Put("a", 2) // rebound: now the newest
	tb.Put("d", 1)
	assert.Nil(t, get(tb, "b"))
	assert.Equal(t, 2, get(tb, "a"))
}

func TestTableSecondChance(t *testing.T) {
	tb, clk := newTestTable[int](t, time.Hour, 100)
	for i := range 100 {
		tb.Put(strconv.Itoa(i), i)
	}
	get(tb, "1") // in the second it was put: no second chance
	clk.advance(time.Second)
	get(tb, "0") // used since it was put
	tb.Put("new1", 0)
	tb.Put("new2", 0)
	assert.Equal(t, 0, get(tb, "0"), "a used entry survives")
	assert.Nil(t, get(tb, "1"))
	assert.Nil(t, get(tb, "2"))
	assert.Equal(t, 100, tb.Len())

	// One turn of the line later, key 0, unused since, goes.
	for i := range 97 {
		tb.Put(fmt.Sprint("more", i), 0)
	}
	assert.Equal(t, 0, get(tb, "0"), "it went to the back of the line")
	for i := range 100 {
		tb.Put(fmt.Sprint("yet more", i), 0)
	}
	assert.Nil(t, get(tb, "0"), "not used in a later second: evicted")
}

func TestTableSecondChancesAreBounded(t *testing.T) {
	tb, clk := newTestTable[int](t, time.Hour, 100)
	for i := range 100 {
		tb.Put(strconv.Itoa(i), i)
	}
	clk.advance(time.Second)
	for i := range 100 { // all in use
		get(tb, strconv.Itoa(i))
	}
	tb.Put("new", 0)
	assert.Equal(t, 100, tb.Len())
	for i := range maxChances {
		assert.Equal(t, i, get(tb, strconv.Itoa(i)), "passed over")
	}
	assert.Nil(t, get(tb, strconv.Itoa(maxChances)), "evicted when the chances ran out")
}

func TestTableFloodIsBounded(t *testing.T) {
	// A flood of 20 times the bound: every key past the first 10,000
	// evicts one.
	const maxEntries, n = 10_000, 200_000
	tb, clk := newTestTable[*int](t, time.Hour, maxEntries)
	var v int
	before := heapInUse()
	var most uint64
	key := []byte("flood-key-0000000000")[:10]
	for i := range n {
		tb.Put(string(strconv.AppendInt(key[:10], int64(i), 10)), &v)
		if tb.Len() > maxEntries {
			require.LessOrEqual(t, tb.Len(), maxEntries)
		}
		if i%(n/10) == n/10-1 {
			clk.advance(time.Second)
			most = max(most, heapInUse())
		}
	}
	grew := int64(most) - int64(before)
	t.Logf("heap: %d bytes more for %d entries (%.0f bytes an entry)", grew, maxEntries, float64(grew)/maxEntries)
	// An entry is 64 bytes and its key 16 to 24, and the slots take 8 bytes
	// each, 32768 of them: about 1 MB. Allow four times that.
	assert.Less(t, grew, int64(4<<20), "memory stays bounded")
	assert.Equal(t, maxEntries, tb.Len())
	for i := range n {
		if _, ok := tb.Get(string(strconv.AppendInt(key[:10], int64(i), 10))); ok != (i >= n-maxEntries) {
			require.Failf(t, "wrong key evicted", "key %d: present = %v", i, ok)
		}
	}
	runtime.KeepAlive(tb)
}

// heapInUse returns the bytes of the live heap, after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func TestTableCopiesKeys(t *testing.T) {
	tb, _ := newTestTable[int](t, time.Hour, 1000)
	before := heapInUse()
	for i := range 200 {
		// A key cut from a 64 KiB header, and stored with its entry (20
		// bytes) or apart (200 bytes).
		header := strings.Repeat(strconv.Itoa(i%10), 64<<10)
		n := 200
		if i%2 == 0 {
			n = 20
		}
		tb.Put(header[:n]+strconv.Itoa(i), i)
	}
	grew := int64(heapInUse()) - int64(before)
	assert.Less(t, grew, int64(1<<20), "the 12.8 MB of headers are not kept")
	assert.Equal(t, 8, get(tb, "88888888888888888888"+"8"))
	assert.Equal(t, 7, get(tb, strings.Repeat("7", 200)+"7"))
	runtime.KeepAlive(tb)
}

func TestTableAdversarialKeys(t *testing.T) {
	tb, _ := newTestTable[int](t, time.Hour, 100)
	long := strings.Repeat("x", MaxTableKeyLen)
	keys := []string{
		"", "\x00", "\x00\x00", "\xff\xfe\xfd", "\xc3\x28", "a\x00b", "a\x00c",
		long, long[:MaxTableKeyLen-1] + "y", "\u202e\u2066", strings.Repeat("\x00", 300),
	}
	for i, k := range keys {
		tb.Put(k, i)
	}
	for i, k := range keys {
		assert.Equal(t, i, get(tb, k), "key %q", k)
	}
	tooLong := long + "x"
	tb.Put(tooLong, 99)
	assert.Nil(t, get(tb, tooLong), "a key over MaxTableKeyLen is not stored")
	assert.Equal(t, len(keys), tb.Len())
	tb.Delete(tooLong)
	tb.Delete(strings.Repeat("y", 1<<20))
	for _, k := range keys {
		tb.Delete(k)
	}
	assert.Zero(t, tb.Len())
}

func TestTableTombstones(t *testing.T) {
	// Put and delete far more keys than the table has slots, against a
	// model: tombstones are reused or cleared, and every probe still ends.
	const maxEntries = 64
	tb, _ := newTestTable[int](t, time.Hour, maxEntries)
	slots := len(tb.slots.Load().s)
	var line []int // the model: kept keys, oldest first
	for i := range 20_000 {
		k := strconv.Itoa(i)
		tb.Put(k, i)
		if len(line) == maxEntries {
			line = line[1:]
		}
		line = append(line, i)
		if i%7 != 0 {
			tb.Delete(k)
			line = line[:len(line)-1]
		}
		if i%3 == 0 && len(line) > 1 { // delete an older one too
			j := line[len(line)/2]
			tb.Delete(strconv.Itoa(j))
			line = append(line[:len(line)/2], line[len(line)/2+1:]...)
		}
		require.Nil(t, get(tb, "absent"))
		if i%1000 == 0 {
			checkTable(t, tb)
		}
	}
	assert.Equal(t, slots, len(tb.slots.Load().s), "the slot array keeps its size")
	require.Equal(t, len(line), tb.Len())
	for _, i := range line {
		require.Equal(t, i, get(tb, strconv.Itoa(i)))
	}
}

func TestTableAllocs(t *testing.T) {
	tb, clk := newTestTable[*int](t, time.Hour, 100)
	v := new(int)
	tb.Put("present", v)
	tooLong := strings.Repeat("x", MaxTableKeyLen+1)
	for name, f := range map[string]func(){
		"hit":      func() { tb.Get("present") },
		"miss":     func() { tb.Get("absent") },
		"too long": func() { tb.Get(tooLong) },
		"put same": func() { tb.Put("present", v) },
		"refresh":  func() { clk.advance(time.Second); tb.Get("present") },
	} {
		assert.Zero(t, testing.AllocsPerRun(100, f), name)
	}
}

func TestNewTable(t *testing.T) {
	tb := mustTable(NewTable[int](TableConfig{TTL: time.Minute}))
	assert.Equal(t, int64(sticky.DefaultMaxEntries), tb.max)
	assert.Len(t, tb.slots.Load().s, 2*sticky.DefaultMaxEntries)
	tb.Put("k", 1) // with the real clock
	assert.Equal(t, 1, get(tb, "k"))

	tb = mustTable(NewTable[int](TableConfig{TTL: time.Minute, MaxEntries: 1}))
	assert.Len(t, tb.slots.Load().s, minSlots)
	tb.Put("a", 1)
	tb.Put("b", 2)
	assert.Nil(t, get(tb, "a"))
	assert.Equal(t, 2, get(tb, "b"))
	assert.Len(t, mustTable(NewTable[int](TableConfig{TTL: time.Minute, MaxEntries: 1000})).slots.Load().s, 2048)
	assert.Len(t, mustTable(NewTable[int](TableConfig{TTL: time.Minute, MaxEntries: 1024})).slots.Load().s, 2048)

	for _, c := range []TableConfig{
		{TTL: 0},
		{TTL: time.Millisecond},
		{TTL: time.Minute, MaxEntries: -1},
		{TTL: time.Minute, MaxEntries: sticky.MaxMaxEntries + 1},
	} {
		_, err := NewTable[int](c)
		var ce *elb.ConfigError
		assert.ErrorAs(t, err, &ce, "%+v", c)
		assert.ErrorIs(t, err, elb.ErrInvalidConfig, "%+v", c)
	}
}

func TestTableConcurrent(t *testing.T) {
	// Writers rebind, delete and churn their own keys while readers check
	// a set of stable keys, a sweeper sweeps and the clock moves. Nothing
	// fills the table or expires, so every key is found exactly as its only
	// writer left it.
	const (
		stable  = 200
		writers = 4
		own     = 100
		rounds  = 3000
	)
	tb, clk := newTestTable[int](t, time.Hour, 1000)
	for i := range stable {
		tb.Put(fmt.Sprint("stable-", i), i)
	}
	slots := tb.slots.Load()
	var writing, others sync.WaitGroup
	var stop atomic.Bool
	for w := range writers {
		writing.Go(func() {
			for r := range rounds {
				k := fmt.Sprintf("w%d-%d", w, r%own)
				x := w*rounds + r
				tb.Put(k, x)
				if v, ok := tb.Get(k); !ok || v != x {
					t.Errorf("%s: got %v, %v; want %d", k, v, ok, x)
					return
				}
				if r%3 == 0 {
					tb.Delete(k)
					if v, ok := tb.Get(k); ok {
						t.Errorf("%s: got %v after Delete", k, v)
						return
					}
				}
				churn := fmt.Sprintf("churn%d-%d", w, r) // leaves tombstones: rebuilds
				tb.Put(churn, x)
				tb.Delete(churn)
			}
		})
	}
	for range 2 {
		others.Go(func() {
			for i := 0; !stop.Load(); i++ {
				k := fmt.Sprint("stable-", i%stable)
				if v, ok := tb.Get(k); !ok || v != i%stable {
					t.Errorf("%s: got %v, %v; want %d", k, v, ok, i%stable)
					return
				}
			}
		})
	}
	others.Go(func() {
		for i := 0; !stop.Load(); i++ {
			if n := tb.Sweep(); n != 0 {
				t.Errorf("Sweep dropped %d entries, none expired", n)
				return
			}
			if i < 600 { // well within the TTL
				clk.advance(time.Second)
			}
			runtime.Gosched()
		}
	})
	others.Go(func() {
		for !stop.Load() {
			if n := tb.Len(); n > 1000 {
				t.Errorf("Len %d", n)
			}
			runtime.Gosched()
		}
	})
	writing.Wait()
	stop.Store(true)
	others.Wait()
	checkTable(t, tb)
	assert.NotSame(t, slots, tb.slots.Load(), "rebuilt meanwhile")
	for i := range stable {
		assert.Equal(t, i, get(tb, fmt.Sprint("stable-", i)))
	}
}

func TestTableConcurrentEviction(t *testing.T) {
	tb, clk := newTestTable[int](t, time.Hour, 100)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 5000 {
				k := fmt.Sprintf("%d-%d", w, i)
				tb.Put(k, i)
				get(tb, k)
				if n := tb.Len(); n > 100 {
					t.Errorf("Len %d", n)
					return
				}
				if i%100 == 0 {
					clk.advance(time.Second)
					tb.Sweep()
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 100, tb.Len())
}

// mustTable returns t, failing on err: the configs here are valid.
func mustTable[V comparable](t *Table[V], err error) *Table[V] {
	if err != nil {
		panic(err)
	}
	return t
}
