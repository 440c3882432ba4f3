package stickytable

import (
	"fmt"
	"hash/maphash"
	"math/bits"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/go-elb/elb"
	"github.com/go-elb/elb/internal/cfgerr"
	"github.com/go-elb/elb/sticky"
)

// MaxTableKeyLen is the longest key a Table stores. Put ignores a longer
// key, and Get and Delete find nothing under one, so that a table's memory
// stays within MaxEntries keys of this size. A caller treats such a key as
// no affinity.
const MaxTableKeyLen = 1024

// TableConfig configures a Table.
type TableConfig struct {
	// TTL is how long an entry lives after its last use, to the second.
	// It must be at least a second; the caller validates it (Config.TTL
	// lies within MinTTL-MaxTTL).
	TTL time.Duration
	// MaxEntries bounds the number of entries, 1 to MaxMaxEntries; 0 means
	// DefaultMaxEntries.
	MaxEntries int
	// Now returns the current time in Unix seconds. A coarse clock, such as
	// an atomic counter that a timer moves every second, keeps Get cheap.
	// nil means time.Now().Unix(), read on every call.
	Now func() int64
}

// A Table maps affinity keys, such as the value of an application's
// session cookie or of a header, to values, such as backends. It holds at
// most MaxEntries entries, and an entry expires TTL after its last use (a
// sliding TTL). Keys are untrusted: any string, chosen by a client.
//
// Get takes no lock and allocates nothing: the only memory it writes is
// the last-use time of the entry it finds, and only when the second has
// changed. Put, Delete and Sweep take a mutex. A Table is safe for
// concurrent use, and runs no goroutine: expired entries are dropped by
// Sweep, which its owner calls now and then, and by Put when it meets them.
//
// # Eviction
//
// A Put of a new key into a full table evicts the entry that was put
// longest ago, except that an entry used since it was put, or since it was
// last passed over, at a later second than that, gets a second chance: it
// moves to the back of the line, as in the CLOCK algorithm. An eviction
// gives at most a few such chances before it evicts the oldest entry
// regardless. So a flood of new keys, each used once, evicts the flood's
// own keys first, and a key that is in use survives as long as it is used
// at least once per turn of the line. With no Get in between, entries are
// evicted in the order they were put.
//
// # Design
//
// The entries live in an open-addressing hash table with linear probing: a
// power-of-two array of at least 2×MaxEntries atomic pointers, each nil, a
// pointer to an entry, or a tombstone (a deleted entry). Keys are hashed
// with hash/maphash under a random per-table seed, so that a client who
// chooses keys cannot make them collide. An entry is immutable but for
// its last-use time, an atomic, so a rebinding Put stores a new entry in
// the slot; an entry and the copy of its key are one allocation. Get probes from the key's slot until it finds the key or a nil
// slot; a deletion leaves a tombstone, never a nil slot, so that a
// concurrent Get never misses a present key. When tombstones and entries
// together would fill three quarters of the array, Put copies the live
// entries into a fresh array and publishes it with an atomic store; a Get
// still on the old array sees the table as it was. The eviction line is a
// doubly linked list of the entries, guarded by the mutex.
type Table[V comparable] struct {
	// Read by Get. slots changes only when it is rebuilt.
	slots atomic.Pointer[slotArray[V]]
	seed  maphash.Seed
	ttl   int64 // seconds
	now   func() int64

	_ [128]byte // keeps the writers' fields off the readers' cache lines

	n atomic.Int64 // live entries, for Len

	// Guarded by mu.
	mu         sync.Mutex
	max        int64
	tombs      int       // tombstones in slots
	limit      int       // most non-nil slots before a rebuild
	head, tail *entry[V] // the eviction line: head is the oldest
	tomb       *entry[V] // the tombstone; its hash matches no key's
}

// An entry binds a key to a value. Only lastUse changes once it is in a
// table.
type entry[V comparable] struct {
	hash    uint64 // the key's hash, with the low bit set
	key     string
	v       V
	lastUse atomic.Int64 // Unix seconds

	// Guarded by Table.mu; Get does not read them.
	prev, next *entry[V] // the eviction line
	mark       int64     // lastUse when put, or when last passed over
}

// slotArray is a table's array of slots, replaced whole by a rebuild.
type slotArray[V comparable] struct {
	shift uint // a hash's slot is hash >> shift
	mask  uint64
	s     []atomic.Pointer[entry[V]]
}

// minSlots is the least number of slots of a table.
const minSlots = 8

// maxChances is the most entries an eviction passes over.
const maxChances = 8

// sweepChunk is how many slots Sweep examines per hold of the mutex, so
// that it does not stall Put and Delete on a large table.
const sweepChunk = 4096

// NewTable returns an empty Table for cfg, or an *elb.ConfigError if cfg.TTL is
// under a second (wrapping ErrInvalidTTL too) or cfg.MaxEntries is outside
// 0-MaxMaxEntries.
func NewTable[V comparable](cfg TableConfig) (*Table[V], error) {
	if cfg.TTL < time.Second {
		return nil, &elb.ConfigError{Field: "TTL", Value: cfg.TTL, Problem: "must be at least 1s", Err: sticky.ErrInvalidTTL}
	}
	maxEntries := cfg.MaxEntries
	if maxEntries == 0 {
		maxEntries = sticky.DefaultMaxEntries
	}
	if maxEntries < 1 || maxEntries > sticky.MaxMaxEntries {
		return nil, cfgerr.New("MaxEntries", cfg.MaxEntries, fmt.Sprintf("must be 0-%d", sticky.MaxMaxEntries))
	}
	n := max(minSlots, 1<<bits.Len(uint(2*maxEntries-1))) // a power of two >= 2*maxEntries
	t := &Table[V]{
		seed:  maphash.MakeSeed(),
		ttl:   int64(cfg.TTL / time.Second),
		now:   cfg.Now,
		max:   int64(maxEntries),
		limit: n / 4 * 3,
		tomb:  new(entry[V]),
	}
	if t.now == nil {
		t.now = unixNow
	}
	t.slots.Store(newSlotArray[V](n))
	return t, nil
}

func unixNow() int64 { return time.Now().Unix() }

func newSlotArray[V comparable](n int) *slotArray[V] {
	return &slotArray[V]{
		shift: uint(64 - bits.TrailingZeros(uint(n))),
		mask:  uint64(n - 1),
		s:     make([]atomic.Pointer[entry[V]], n),
	}
}

// hash returns key's hash, with the low bit set so that it differs from
// the tombstone's (0). The slot is taken from the high bits.
func (t *Table[V]) hash(key string) uint64 {
	return maphash.String(t.seed, key) | 1
}

// find returns the entry of key, whose hash is h, or nil.
func (s *slotArray[V]) find(h uint64, key string) *entry[V] {
	for i := h >> s.shift; ; i = (i + 1) & s.mask {
		e := s.s[i].Load()
		if e == nil || e.hash == h && e.key == key {
			return e
		}
	}
}

// Get returns the value bound to key, and true, if key is in the table and
// has not expired. A hit counts as a use of the entry, which then lives
// another TTL.
func (t *Table[V]) Get(key string) (v V, ok bool) {
	if len(key) > MaxTableKeyLen {
		return v, false
	}
	e := t.slots.Load().find(t.hash(key), key)
	if e == nil {
		return v, false
	}
	if !t.touch(e, t.now()) {
		return v, false
	}
	return e.v, true
}

// Put binds key to v, replacing any binding of key (a rebind). If the
// table is full, it evicts an entry (see Eviction above) to make room.
// Putting the value a key is already bound to only counts as a use of the
// entry, like Get, and takes no lock. A key longer than MaxTableKeyLen is
// not stored. Put stores a copy of key, never key itself, so that a key
// cut from a larger string (a header) does not keep that string in memory.
// Values are compared with ==: if V is an interface type, its dynamic
// values must be comparable.
func (t *Table[V]) Put(key string, v V) {
	if len(key) > MaxTableKeyLen {
		return
	}
	h := t.hash(key)
	if e := t.slots.Load().find(h, key); e != nil && e.v == v && t.touch(e, t.now()) {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	s := t.slots.Load()
	free := -1 // the first tombstone on key's path
	i := h >> s.shift
probe:
	for ; ; i = (i + 1) & s.mask {
		switch e := s.s[i].Load(); {
		case e == nil:
			break probe // key is not in the table
		case e == t.tomb:
			if free < 0 {
				free = int(i)
			}
		case e.hash == h && e.key == key:
			if e.v == v && t.touch(e, now) {
				return
			}
			ne := t.newEntry(e.key, h, v, now)
			s.s[i].Store(ne)
			t.unlink(e)
			t.pushBack(ne)
			return
		case now-e.lastUse.Load() >= t.ttl: // expired, on the way: drop it
			t.remove(s, int(i), e)
			if free < 0 {
				free = int(i)
			}
		}
	}
	if t.n.Load() >= t.max {
		t.evict(now) // leaves a tombstone: neither free nor i changes
	}
	ne := t.newEntry(key, h, v, now)
	switch {
	case free >= 0:
		s.s[free].Store(ne)
		t.tombs--
	case int(t.n.Load())+t.tombs+1 > t.limit:
		t.rebuild(now)
		t.slots.Load().place(ne)
	default:
		s.s[i].Store(ne)
	}
	t.pushBack(ne)
	t.n.Add(1)
}

// touch records a use of e at now, unless e has expired, and reports
// whether e is live. It writes to e only when the second has changed, so
// that parallel hits on one key do not keep writing its cache line.
func (t *Table[V]) touch(e *entry[V], now int64) bool {
	last := e.lastUse.Load()
	if now-last >= t.ttl {
		return false
	}
	if last < now {
		e.lastUse.CompareAndSwap(last, now)
	}
	return true
}

// newEntry returns an entry binding a copy of key to v, used at now.
func (t *Table[V]) newEntry(key string, h uint64, v V, now int64) *entry[V] {
	e := allocEntry[V](key)
	e.hash, e.v, e.mark = h, v, now
	e.lastUse.Store(now)
	return e
}

// allocEntry allocates an entry and a copy of key for it. A key of up to
// 128 bytes is stored right after the entry, in the same allocation, so
// that a Get reads one object, not two; the sizes are those of the
// allocator's size classes, so no space is wasted for a pointer-sized V.
func allocEntry[V comparable](key string) *entry[V] {
	var e *entry[V]
	var b []byte
	switch n := len(key); {
	case n == 0:
		return new(entry[V])
	case n <= 16:
		x := new(struct {
			e entry[V]
			b [16]byte
		})
		e, b = &x.e, x.b[:]
	case n <= 32:
		x := new(struct {
			e entry[V]
			b [32]byte
		})
		e, b = &x.e, x.b[:]
	case n <= 48:
		x := new(struct {
			e entry[V]
			b [48]byte
		})
		e, b = &x.e, x.b[:]
	case n <= 64:
		x := new(struct {
			e entry[V]
			b [64]byte
		})
		e, b = &x.e, x.b[:]
	case n <= 128:
		x := new(struct {
			e entry[V]
			b [128]byte
		})
		e, b = &x.e, x.b[:]
	default:
		return &entry[V]{key: strings.Clone(key)}
	}
	e.key = unsafe.String(&b[0], copy(b, key))
	return e
}

// Delete removes key's binding, if any.
func (t *Table[V]) Delete(key string) {
	if len(key) > MaxTableKeyLen {
		return
	}
	h := t.hash(key)
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.slots.Load()
	for i := h >> s.shift; ; i = (i + 1) & s.mask {
		e := s.s[i].Load()
		if e == nil {
			return
		}
		if e.hash == h && e.key == key {
			t.remove(s, int(i), e)
			return
		}
	}
}

// Len returns the number of entries in the table. It counts expired
// entries that have not yet been dropped (by Sweep, or by Put on its way),
// and is at most MaxEntries.
func (t *Table[V]) Len() int { return int(t.n.Load()) }

// Sweep drops the expired entries and returns how many it dropped. The
// table's owner calls it now and then, such as once a minute; Get and Put
// ignore expired entries meanwhile. Sweep holds the mutex for a few
// thousand slots at a time, so Put and Delete wait little; Get does not
// wait at all.
func (t *Table[V]) Sweep() int {
	dropped := 0
	for lo := 0; ; lo += sweepChunk {
		t.mu.Lock()
		now := t.now()
		s := t.slots.Load() // a Put between chunks may have rebuilt it: then some entries wait for the next Sweep
		if lo >= len(s.s) {
			if t.tombs > len(s.s)/8 { // many expired at once: shorten the probes of Get
				dropped += t.rebuild(now)
			}
			t.mu.Unlock()
			return dropped
		}
		for i := lo; i < min(lo+sweepChunk, len(s.s)); i++ {
			if e := s.s[i].Load(); e != nil && e != t.tomb && now-e.lastUse.Load() >= t.ttl {
				t.remove(s, i, e)
				dropped++
			}
		}
		t.mu.Unlock()
	}
}

// remove replaces e, in slot i of s, with a tombstone and takes it off the
// eviction line. The caller holds t.mu.
func (t *Table[V]) remove(s *slotArray[V], i int, e *entry[V]) {
	s.s[i].Store(t.tomb)
	t.tombs++
	t.unlink(e)
	t.n.Add(-1)
}

// evict removes one entry to make room (see Eviction above). The caller
// holds t.mu, and the table is not empty.
func (t *Table[V]) evict(now int64) {
	e := t.head
	for range maxChances {
		last := e.lastUse.Load()
		if last <= e.mark || now-last >= t.ttl {
			break
		}
		e.mark = last // a second chance
		t.unlink(e)
		t.pushBack(e)
		e = t.head
	}
	s := t.slots.Load()
	for i := e.hash >> s.shift; ; i = (i + 1) & s.mask {
		if s.s[i].Load() == e {
			t.remove(s, int(i), e)
			return
		}
	}
}

// rebuild copies the live entries into a fresh slot array, which it
// publishes, and drops the expired ones: it returns how many. The caller
// holds t.mu.
func (t *Table[V]) rebuild(now int64) int {
	old := t.slots.Load()
	s := newSlotArray[V](len(old.s))
	dropped := 0
	for i := range old.s {
		e := old.s[i].Load()
		switch {
		case e == nil || e == t.tomb:
		case now-e.lastUse.Load() >= t.ttl:
			t.unlink(e)
			t.n.Add(-1)
			dropped++
		default:
			s.place(e)
		}
	}
	t.tombs = 0
	t.slots.Store(s)
	return dropped
}

// place stores e in the first nil slot on its path. Only a rebuild, or a
// Put right after one, calls it: s has no tombstones.
func (s *slotArray[V]) place(e *entry[V]) {
	i := e.hash >> s.shift
	for s.s[i].Load() != nil {
		i = (i + 1) & s.mask
	}
	s.s[i].Store(e)
}

// pushBack puts e at the back of the eviction line.
func (t *Table[V]) pushBack(e *entry[V]) {
	e.prev, e.next = t.tail, nil
	if t.tail != nil {
		t.tail.next = e
	} else {
		t.head = e
	}
	t.tail = e
}

// unlink takes e off the eviction line.
func (t *Table[V]) unlink(e *entry[V]) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		t.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		t.tail = e.prev
	}
	e.prev, e.next = nil, nil
}
