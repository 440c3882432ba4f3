package etcd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/internal/cfgerr"
)

// ErrUnreachable is the error, usable with [errors.Is], that a Source
// reports to Config.OnError when the etcd client's connection leaves
// gRPC's READY state (IDLE, CONNECTING, TRANSIENT_FAILURE) while the
// source watches: once, until it is READY again.
var ErrUnreachable = errors.New("etcd unreachable")

// DefaultTimeout is Config.Timeout when it is 0.
const DefaultTimeout = 5 * time.Second

// Config configures a Source. The zero value is not valid: Client and
// Prefix are required.
type Config struct {
	// Client is the etcd client the source lists and watches with,
	// required. The source does not close it.
	Client *clientv3.Client

	// Prefix is the service's name, as endpoints.NewManager takes it
	// (its "target"), such as "services/orders": each key Prefix + "/" +
	// ID is a backend with that ID, as Register and endpoints.Manager
	// write them. Required; it must not end in "/".
	Prefix string

	// Timeout bounds each list request (the watch is not bounded). 0
	// means DefaultTimeout (5s); negative values are invalid.
	Timeout time.Duration

	// OnError, if set, is called with each entry the source skips (an
	// *EntryError), each watch it had to start again (its error wraps
	// the watch's, such as rpctypes.ErrCompacted) and each loss of the
	// connection while it watches (ErrUnreachable), on the goroutine
	// calling Next. Errors of a list are Next's own, not passed here. nil means they are logged with slog.Default at level
	// Warn: a skipped entry is never silent.
	OnError func(error)
}

// Source is a group.Source that follows the backends registered under a
// prefix in etcd, by Register or by etcd's own endpoints.Manager
// (go.etcd.io/etcd/client/v3/naming/endpoints): services that register
// with etcd's naming package are found as they are. Create one with
// NewSource.
//
// The first Next lists the prefix and returns its backends as a Full
// update. Each later Next watches the prefix from the revision after the
// last one seen and returns the changes as a diff: the backends put
// (added or changed; a put that changes nothing returns nothing) and the
// IDs deleted, a lease's expiry included. When etcd has compacted the
// revision the watch needs (rpctypes.ErrCompacted), or the watch ends or
// fails otherwise, Next lists the prefix again and returns a Full
// update, then watches from the new revision; the watch's error goes to
// Config.OnError. A list that fails (etcd unavailable, Config.Timeout
// passed) is returned as Next's error, and the next call lists again, so
// group.Sync keeps the group's members and backs off. While etcd is
// unreachable in the middle of a watch, the source reports it to
// Config.OnError once (an error wrapping ErrUnreachable) and Next waits:
// the etcd client reconnects and resumes the watch where it stopped, and
// the changes made meanwhile arrive as diffs (those already waiting in
// one). (Next returns no error
// then: group.Sync would back off, up to 30s, and delay the changes after
// etcd's return by as much.)
//
// A key's value is the JSON that endpoints.Manager writes,
//
//	{"Op": 0, "Addr": "10.0.1.5:8080", "Metadata": {"weight": 5, "zone": "az1", "version": "v2"}}
//
// read as etcd's own reader reads it (encoding/json: member names in any
// case, unknown members ignored). Addr is the backend's address, as
// group.Backend.Addr documents it; the ID is the key after Prefix + "/".
// Metadata is null, absent or an object whose member "weight"
// (MetadataWeight) is the backend's weight, a JSON integer 0-100 (absent:
// group.DefaultWeight, 1), and whose member "zone" (MetadataZone) is its
// zone, a JSON string. Every other member is Backend.Metadata: a JSON
// string as its value, any other JSON value as its compact JSON text.
//
// An entry that is not such a value (bad JSON, a missing or invalid Addr,
// a weight of 300 or "5", a zone that is not a string) is skipped and
// reported to Config.OnError as an *EntryError wrapping ErrInvalidEntry;
// it is never given a default, and it never empties the group: a key whose
// new value is invalid keeps its last valid backend, and any other key is
// unaffected. Two keys with the same address are one backend, the key
// created first (then the smaller ID); the other is skipped and reported
// as an *EntryError wrapping group.ErrDuplicateAddress, and takes over if
// the first one goes.
//
// When the prefix holds no backend, Next returns that (a Full update with
// none, or a diff removing the last one; group.Sync refuses both unless
// SyncConfig.AllowEmpty) and the next update after it is a Full one, so
// a group that kept its members sees the whole membership again.
//
// Next may be called from one goroutine at a time; concurrent calls wait
// their turn. When the ctx of a Next under way ends, the source stops its
// watch: the next Next lists again.
type Source struct {
	cfg Config
	key string // Prefix + "/"

	sem chan struct{} // one Next at a time; guards the rest

	listed bool  // entries is the prefix's content at rev
	rev    int64 // the last revision seen
	watch  clientv3.WatchChan
	stop   context.CancelFunc // ends watch

	entries map[string]*entry        // by ID: each key's last valid backend
	byAddr  map[string][]string      // the IDs of entries by address
	sent    map[string]group.Backend // the members last returned, by ID
	full    bool                     // the next update is Full (the prefix was empty)
	down    bool                     // etcd was unreachable, reported, and not READY since
}

// entry is one key's last valid backend.
type entry struct {
	b       group.Backend
	key     string
	created int64 // the key's CreateRevision: the first created wins an address
}

// NewSource returns a source, or an *elb.ConfigError (wrapping
// elb.ErrInvalidConfig) for a field of cfg that is missing or out of range.
// It does not contact etcd: the first Next does.
func NewSource(cfg Config) (*Source, error) {
	switch {
	case cfg.Client == nil:
		return nil, cfgerr.New("Config.Client", nil, "is nil: want an etcd client (clientv3.New)")
	case cfg.Prefix == "":
		return nil, cfgerr.New("Config.Prefix", nil, `is empty: want the key prefix the backends register under, as endpoints.NewManager's target (such as "services/orders")`)
	case strings.HasSuffix(cfg.Prefix, "/"):
		return nil, cfgerr.New("Config.Prefix", cfg.Prefix, `must not end in "/": keys are Prefix + "/" + ID`)
	case cfg.Timeout < 0:
		return nil, cfgerr.New("Config.Timeout", cfg.Timeout, "must not be negative")
	case cfg.Timeout == 0:
		cfg.Timeout = DefaultTimeout
	}
	if cfg.OnError == nil {
		cfg.OnError = logError
	}
	return &Source{cfg: cfg, key: cfg.Prefix + "/", sem: make(chan struct{}, 1)}, nil
}

// logError is the OnError of a Config or RegisterConfig without one.
func logError(err error) { slog.Default().Warn("elb: discovery/etcd", "err", err) }

// Next returns the prefix's backends, or their next change, as Source
// documents.
func (s *Source) Next(ctx context.Context) (group.SourceUpdate, error) {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return group.SourceUpdate{}, ctx.Err()
	}
	defer func() { <-s.sem }()
	nctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var states <-chan connectivity.State // the connection's, while this Next watches
	for {
		if !s.listed {
			return s.list(ctx)
		}
		if s.watch == nil {
			wctx, stop := context.WithCancel(context.Background())
			s.stop = stop
			s.watch = s.cfg.Client.Watch(wctx, s.key, clientv3.WithPrefix(), clientv3.WithRev(s.rev+1))
		}
		if states == nil {
			states = connStates(nctx, s.cfg.Client.ActiveConnection())
		}
		select {
		case <-ctx.Done():
			s.reset()
			return group.SourceUpdate{}, ctx.Err()
		case st := <-states:
			switch {
			case st != connectivity.Ready && st != connectivity.Shutdown && !s.down:
				s.down = true
				s.cfg.OnError(fmt.Errorf("elb: discovery/etcd: watch %s: %w (gRPC connection %v): the watch waits, the group keeps its members", s.key, ErrUnreachable, st))
			case st == connectivity.Ready:
				s.down = false
			}
		case resp, ok := <-s.watch:
			ch := change{touched: make(map[string]bool), ids: make(map[string]bool)}
			// Responses that are already waiting join this one: one update
			// for a burst of changes, not one each.
			for {
				if err := watchError(resp, ok); err != nil {
					s.reset()
					s.cfg.OnError(fmt.Errorf("elb: discovery/etcd: watch %s from revision %d: %w; listing again", s.key, s.rev+1, err))
					break
				}
				s.rev = max(s.rev, resp.Header.Revision)
				s.apply(resp.Events, &ch)
				select {
				case resp, ok = <-s.watch:
					continue
				default:
				}
				break
			}
			if !s.listed {
				continue // a broken watch: list again, dropping the changes read so far
			}
			if u, changed := s.diff(&ch); changed {
				return u, nil
			}
		}
	}
}

// connStates sends conn's states on the channel it returns, the current
// one first, until ctx ends.
func connStates(ctx context.Context, conn *grpc.ClientConn) <-chan connectivity.State {
	ch := make(chan connectivity.State)
	go func() {
		for st := conn.GetState(); ; st = conn.GetState() {
			select {
			case ch <- st:
			case <-ctx.Done():
				return
			}
			if !conn.WaitForStateChange(ctx, st) {
				return
			}
		}
	}()
	return ch
}

// watchError returns the error of a watch response: the channel closed
// (!ok), the watch failed or was canceled.
func watchError(resp clientv3.WatchResponse, ok bool) error {
	switch {
	case !ok:
		return errors.New("the watch channel closed")
	case resp.Err() != nil:
		return resp.Err()
	case resp.Canceled:
		return errors.New("the watch was canceled")
	}
	return nil
}

// reset stops the watch and makes the next Next list again.
func (s *Source) reset() {
	if s.stop != nil {
		s.stop()
	}
	s.listed, s.watch, s.stop = false, nil, nil
}

// list reads the whole prefix and returns it as a Full update.
func (s *Source) list(ctx context.Context) (group.SourceUpdate, error) {
	lctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	resp, err := s.cfg.Client.Get(lctx, s.key, clientv3.WithPrefix())
	if err != nil {
		if ctx.Err() != nil {
			return group.SourceUpdate{}, ctx.Err()
		}
		return group.SourceUpdate{}, fmt.Errorf("elb: discovery/etcd: list %s: %w", s.key, err)
	}
	old := s.entries
	s.entries = make(map[string]*entry, len(resp.Kvs))
	s.byAddr = make(map[string][]string, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		key := string(kv.Key)
		id := strings.TrimPrefix(key, s.key)
		b, err := parseEntry(key, id, kv.Value)
		if err != nil {
			s.cfg.OnError(err)
			if e := old[id]; e != nil { // keeps its last valid backend
				s.put(e)
			}
			continue
		}
		s.put(&entry{b: b, key: key, created: kv.CreateRevision})
	}
	s.rev, s.listed = resp.Header.Revision, true
	s.sent = make(map[string]group.Backend, len(s.entries))
	backends := make([]group.Backend, 0, len(s.entries))
	for _, addr := range slices.Sorted(maps.Keys(s.byAddr)) {
		w := s.winner(addr)
		s.sent[w.b.ID] = w.b
		backends = append(backends, w.b)
		for _, id := range s.byAddr[addr] {
			if e := s.entries[id]; e != w {
				s.duplicate(e)
			}
		}
	}
	s.full = len(backends) == 0
	return group.SourceUpdate{Full: true, Backends: backends}, nil
}

// change is what a run of watch events changed: the IDs of the keys put
// or deleted and the addresses they had or have.
type change struct {
	touched map[string]bool // addresses
	ids     map[string]bool
}

// apply applies watch events to the entries, adding what they change to
// ch.
func (s *Source) apply(events []*clientv3.Event, ch *change) {
	for _, ev := range events {
		key := string(ev.Kv.Key)
		id := strings.TrimPrefix(key, s.key)
		ch.ids[id] = true
		if e := s.entries[id]; e != nil && ev.Type == clientv3.EventTypeDelete {
			ch.touched[e.b.Addr] = true
			s.drop(e)
			continue
		}
		if ev.Type != clientv3.EventTypePut {
			continue
		}
		b, err := parseEntry(key, id, ev.Kv.Value)
		if err != nil {
			s.cfg.OnError(err) // the key keeps its last valid backend
			continue
		}
		if e := s.entries[id]; e != nil {
			ch.touched[e.b.Addr] = true
			s.drop(e)
		}
		ch.touched[b.Addr] = true
		s.put(&entry{b: b, key: key, created: ev.Kv.CreateRevision})
	}
}

// diff returns the change in the members that ch makes, and whether
// there is one.
func (s *Source) diff(ch *change) (group.SourceUpdate, bool) {
	ids := ch.ids
	for addr := range ch.touched { // a change of one key can change who holds its address
		for _, id := range s.byAddr[addr] {
			ids[id] = true
		}
	}
	var u group.SourceUpdate
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		e := s.entries[id]
		want := e != nil && s.winner(e.b.Addr) == e
		sent, had := s.sent[id]
		switch {
		case want && (!had || !same(sent, e.b)):
			u.Backends = append(u.Backends, e.b)
			s.sent[id] = e.b
		case !want && had:
			u.Removed = append(u.Removed, id)
			delete(s.sent, id)
		}
		if e != nil && !want && (!had || !same(sent, e.b)) {
			s.duplicate(e)
		}
	}
	if len(u.Backends) == 0 && len(u.Removed) == 0 {
		return u, false
	}
	if s.full { // the group may have kept members it should not have: all of it
		u = group.SourceUpdate{Full: true, Backends: slices.SortedFunc(maps.Values(s.sent), byID)}
	}
	s.full = len(s.sent) == 0
	return u, true
}

// duplicate reports e, which is skipped: another entry holds its address.
func (s *Source) duplicate(e *entry) {
	s.cfg.OnError(&EntryError{Key: e.key, Field: "Addr", Value: e.b.Addr,
		Problem: fmt.Sprintf("is the address of key %q, created first; skipped while that key holds it", s.winner(e.b.Addr).key),
		Err:     group.ErrDuplicateAddress})
}

// put adds e to the entries.
func (s *Source) put(e *entry) {
	s.entries[e.b.ID] = e
	s.byAddr[e.b.Addr] = append(s.byAddr[e.b.Addr], e.b.ID)
}

// drop removes e from the entries.
func (s *Source) drop(e *entry) {
	delete(s.entries, e.b.ID)
	ids := slices.DeleteFunc(s.byAddr[e.b.Addr], func(id string) bool { return id == e.b.ID })
	if len(ids) == 0 {
		delete(s.byAddr, e.b.Addr)
	} else {
		s.byAddr[e.b.Addr] = ids
	}
}

// winner returns the entry that holds addr: the one created first, then
// the smallest ID; nil if none has addr.
func (s *Source) winner(addr string) *entry {
	var w *entry
	for _, id := range s.byAddr[addr] {
		e := s.entries[id]
		if w == nil || e.created < w.created || e.created == w.created && e.b.ID < w.b.ID {
			w = e
		}
	}
	return w
}

// same reports whether a and b are the same member.
func same(a, b group.Backend) bool {
	return a.ID == b.ID && a.Addr == b.Addr && a.Zone == b.Zone &&
		(a.Weight == nil) == (b.Weight == nil) && (a.Weight == nil || *a.Weight == *b.Weight) &&
		maps.Equal(a.Metadata, b.Metadata)
}

// byID orders backends by ID.
func byID(a, b group.Backend) int { return strings.Compare(a.ID, b.ID) }
