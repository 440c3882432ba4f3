package group

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/go-elb/elb/balancer"
	"github.com/go-elb/elb/health"
	"github.com/go-elb/elb/internal/stickycookie"
	"github.com/go-elb/elb/sticky"
)

// DefaultAlgorithm is the algorithm of a Config that names none: smooth
// weighted round robin, the cloud products' default.
const DefaultAlgorithm = balancer.NameWeightedRoundRobin

// DefaultDrainTimeout is how long a removed backend may take to finish the
// requests in flight on it when Config.DrainTimeout is 0. It is the
// deregistration delay AWS target groups default to.
const DefaultDrainTimeout = 300 * time.Second

// Config configures a Group. The zero value is a valid configuration: an
// unnamed group balancing with DefaultAlgorithm.
type Config struct {
	// Name names the group in errors, events, statistics and a Registry.
	Name string

	// Algorithm is the load-balancing algorithm, as balancer.ParseConfig
	// reads it: a name registered with balancer.Register, such as
	// "least_request", or a JSON object of one such name and the
	// algorithm's options, such as `{"least_request": {"choiceCount": 3}}`
	// (an option left out keeps its default). Empty means DefaultAlgorithm.
	// An algorithm value set up in Go, such as balancer.LeastRequest{Rand:
	// r}, is registered under a name of its own and selected by it.
	// Group.Algorithm and Stats show the name alone.
	Algorithm string

	// LocalZone, if set, keeps picks on the healthy backends of this zone
	// while it has enough of them (see LocalZoneMinHealthy); otherwise
	// picks spread over the healthy backends of every zone.
	LocalZone string

	// LocalZoneMinHealthy is the percentage, 0-100, of the local zone's
	// backends (those with a weight) that must be healthy for picks to stay
	// in it. 0 means one healthy backend is enough.
	LocalZoneMinHealthy int

	// PanicThreshold, 0-100, turns on panic mode: when fewer than this
	// percentage of the backends with a weight are healthy, picks go to
	// every one of them, healthy or not, rather than overload the few
	// healthy ones or fail. Backends still Initial (new, not yet checked)
	// count neither way and never take requests; draining ones never do. Stats and
	// EventPanic say so. 0 means off: with no healthy backend, Pick fails
	// with ErrNoHealthyBackend. Envoy's default is 50.
	PanicThreshold int

	// Health, if set, turns on active health checks: each backend is
	// probed, starts Initial (no traffic) and takes requests only once
	// Health.HealthyThreshold probes in a row have passed, or, at the
	// group's cold start, its first probe has (see "Startup" in the
	// package documentation). nil means backends are Healthy as soon as
	// they are added.
	Health *health.Config

	// FailFast, if true, makes Pick fail at once when no member can take
	// the request. false (the zero value) has Pick wait, bounded by its
	// ctx, while that is only because members await their first health
	// checks or a Sync its first update (see Pick). A View's Pick never
	// waits: its adapter queues requests itself, as gRPC does.
	FailFast bool

	// Outlier, if set, turns on passive outlier detection: a backend whose
	// requests fail (Done with an error) Outlier.ConsecutiveFailures times
	// in a row is ejected for a while. nil means off.
	Outlier *health.OutlierConfig

	// SlowStart, if set, ramps the weight of a backend that has just
	// become healthy up over SlowStart.Window. nil means off. It shapes
	// the weighted algorithms; round_robin and random ignore weights.
	SlowStart *health.SlowStart

	// Sticky, if set, binds requests to backends (session affinity) by
	// Request.Affinity (a cookie or header value) or Request.Source, as
	// Sticky.Mode says; a binding to a backend that cannot take the
	// request (unhealthy, ejected, draining, weight 0, gone) moves to a
	// fresh pick. nil means off.
	Sticky *sticky.Config

	// DrainTimeout bounds how long a removed backend keeps its requests in
	// flight before the group forgets it (a deregistration delay).
	// 0 means DefaultDrainTimeout; negative values are invalid.
	DrainTimeout time.Duration

	// Registry, if set, is where the group registers under Name when it is
	// created (failing if the name is taken) and unregisters when closed.
	Registry *Registry

	// Clock is the source of time for drain timeouts, health checks,
	// ejections and slow start. nil means the real clock.
	Clock Clock

	// Subset, if set, makes this client use a subset of the members: it
	// balances over, connects to and health-checks only the subset's (see
	// SubsetConfig). nil means every member.
	Subset *SubsetConfig

	// Logger, if set, receives a record of every event of the group (see
	// Subscribe): Warn for a backend turning unhealthy or ejected, a zone
	// down or panic mode, Info for the rest, with the attributes the
	// LogKey constants name, stamped with the event's time. The logger is
	// a subscriber: it is called on a goroutine of its own, never by the
	// call that caused the event, and one that falls MaxPendingEvents
	// behind loses the oldest records (Stats.EventsDropped). nil means no
	// logging.
	Logger *slog.Logger

	// awaitReady: the adapter reports which members it can reach (see
	// internal/adapterhook.AwaitReady); set only by elb's own adapters.
	awaitReady bool
}

// Group is a backend group: a set of backends and an algorithm that picks
// one of them for each request.
//
// A Group is made by New: the zero Group takes no backends, and its
// methods return errors wrapping ErrNotNew.
//
// All methods are safe for concurrent use. Pick and Done take no lock and
// allocate nothing: they read an immutable snapshot of the pick set through
// an atomic pointer, which every change to the group replaces.
type Group struct {
	snap atomic.Pointer[snapshot] // what Pick reads
	cfg  Config                   // normalized: Algorithm, DrainTimeout, Clock set
	alg  balancer.Algorithm

	mu       sync.Mutex // serializes changes
	members  []*member  // current members, in the order they were added
	byID     map[string]*member
	draining []*member // removed, finishing their requests
	outlived []*member // removed by the drain timeout, requests still in flight
	closed   bool
	gone     totals        // what removed members counted, outlived ones aside
	cut      int64         // requests in flight when drain timeouts ended drains
	idle     chan struct{} // closed once closed and nothing is draining
	closing  chan struct{} // closed by Close

	noBackend atomic.Uint64 // picks that failed for lack of a backend
	repeated  atomic.Uint64 // ends of a Pick after its first: Stats.RepeatedDone
	events    events
	logged    <-chan struct{} // with Config.Logger: closed once it has logged EventClosed

	monitor             // health checks, ejections, slow start, zones, panic
	handoffs            // what requests hand over: ejections, ends of drains
	startup             // cold start, Syncs awaiting their first update
	sticky   *affinity  // nil: no session affinity
	subset   *subsetter // nil: no subsetting
	gen      uint64     // generation of the last snapshot built; guarded by mu
	views    []*View    // open views, rebuilt with each snapshot; guarded by mu

	errNoBackends, errNoAvailable, errNoHealthy, errClosed error // prebuilt: Pick must not allocate
}

// totals are counters summed over backends.
type totals struct{ requests, failures, stickyHits uint64 }

// snapshot is an immutable pick set: the members that take new requests
// and the algorithm's picker over them. err is set when the set is empty;
// then wait says whether a Pick should wait for the next snapshot, and
// changed is closed when the snapshot is replaced (see publish).
type snapshot struct {
	members []*member
	eps     []balancer.Endpoint // what picker was built from: the weights, for retries
	picker  balancer.Picker
	err     error
	wait    bool
	changed chan struct{}

	byIP   balancer.Picker            // sticky.SourceIP: source_ip_hash over members
	tokens map[stickycookie.Token]int // sticky.Cookie: each member's tokens -> index

	viewSnapshot // a View's additions; zero in the group's own
}

// member is one backend in a group. Its first cache line holds the
// counters that every Pick and Done touch; the rest is written only under
// the group's lock. Both parts are padded to whole cache lines, so the
// allocator aligns the struct to its size and no other backend's counters
// share the first line.
type member struct {
	hot
	_ [64 - unsafe.Sizeof(hot{})%64]byte
	cold
	_ [64 - unsafe.Sizeof(cold{})%64]byte
}

// hot are the counters of a member that the pick path writes.
type hot struct {
	// What a pick reads, then the Load's first 64 bytes, what it writes.
	draining   atomic.Bool   // set once, after the member left the pick set
	errRun     atomic.Uint32 // consecutive failed requests, with outlier detection on
	group      *Group
	load       balancer.Load // in flight (started: the picks), latency
	unpicked   atomic.Uint64 // picks taken back (Release, or the member was draining): not requests
	failures   atomic.Uint64
	stickyHits atomic.Uint64 // requests that followed their binding here
}

// requests returns the member's picks: the requests it was sent. The
// picks taken back are read first: each was started before, so the
// difference never goes below zero.
func (m *member) requests() uint64 {
	unpicked := m.unpicked.Load()
	return uint64(m.load.Started()) - unpicked
}

// cold is the rest of a member.
type cold struct {
	desc    atomic.Pointer[Backend] // normalized; replaced, never changed, by Update
	inSet   atomic.Bool             // in the newest pick set: a binding to it may be followed
	outside bool                    // outside this client's subset (Config.Subset): not checked, never picked
	mark    uint64                  // rebuild's scratch: the generation that put it in the set
	subGen  uint64                  // chooseSubset's scratch: the choice that put it in the subset
	tokens  []stickycookie.Token    // sticky.Cookie: its tokens, one per key
	state   health.State            // guarded by group.mu, as is the rest
	weight  int                     // weight 0-100 (0: no new requests)
	timer   Timer                   // drain timeout
	memberHealth
}

var _ [0]struct{} = [unsafe.Sizeof(member{}) % 64]struct{}{} // whole cache lines

// New creates a group. A field out of range is a *GroupError naming the
// group around an *elb.ConfigError (errors.Is ErrInvalidConfig) whose Field
// is the field's path from cfg, such as "Health.Interval" or
// "Algorithm.least_request.choiceCount", and whose Err keeps the cause
// where there is one: balancer.ErrUnknownAlgorithm for an Algorithm that
// is not registered, sticky.ErrInvalidTTL or sticky.ErrInvalidKey for
// Sticky's TTL and Keys. It fails with ErrDuplicateGroup if cfg.Registry
// holds a group of the same name.
func New(cfg Config) (*Group, error) {
	if cfg.Algorithm == "" {
		cfg.Algorithm = DefaultAlgorithm
	}
	name, alg, err := balancer.ParseConfig(cfg.Algorithm)
	if err != nil {
		return nil, invalidConfig(cfg.Name, "Algorithm", err)
	}
	cfg.Algorithm = name
	switch {
	case cfg.DrainTimeout < 0:
		return nil, fieldError(cfg.Name, "DrainTimeout", cfg.DrainTimeout, "must not be negative")
	case cfg.DrainTimeout == 0:
		cfg.DrainTimeout = DefaultDrainTimeout
	}
	if cfg.Clock == nil {
		cfg.Clock = health.RealClock{}
	}
	if err := cfg.validateRouting(); err != nil {
		return nil, err
	}
	g := &Group{
		cfg:            cfg,
		alg:            alg,
		byID:           make(map[string]*member),
		idle:           make(chan struct{}),
		closing:        make(chan struct{}),
		errNoBackends:  &GroupError{Group: cfg.Name, Err: ErrNoBackends},
		errNoAvailable: &GroupError{Group: cfg.Name, Err: ErrNoAvailableBackend, Problem: "every backend has weight 0"},
		errNoHealthy:   &GroupError{Group: cfg.Name, Err: ErrNoHealthyBackend},
		errClosed:      &GroupError{Group: cfg.Name, Err: ErrClosed},
	}
	if err := g.initSubset(); err != nil {
		return nil, err
	}
	if err := g.initHealth(); err != nil {
		return nil, err
	}
	if err := g.initSticky(); err != nil {
		g.stopHealth()
		return nil, err
	}
	g.publish(&snapshot{err: g.errNoBackends})
	g.startLogging() // before the registry makes the group reachable
	if cfg.Registry != nil {
		if err := cfg.Registry.add(g); err != nil {
			g.stopHealth()
			return nil, err
		}
	}
	return g, nil
}

// Name returns the group's name.
func (g *Group) Name() string { return g.cfg.Name }

// Algorithm returns the name of the group's algorithm.
func (g *Group) Algorithm() string { return g.cfg.Algorithm }

// Add adds backends to the group. It adds all of them or, if any is
// invalid or clashes with a member or another of the list, none.
func (g *Group) Add(backends ...Backend) error {
	if !g.made() {
		return errNotNew
	}
	bs, err := g.normalize(backends)
	if err != nil {
		return err
	}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return g.errClosed
	}
	for _, b := range bs {
		if err := g.clash(b); err != nil {
			g.mu.Unlock()
			return err
		}
	}
	evs := make([]Event, 0, len(bs))
	for _, b := range bs {
		g.insert(b)
		evs = append(evs, g.event(EventAdded, b))
	}
	g.commit(evs)
	return nil
}

// Update changes the weight, zone and metadata of the member with b's ID
// (b.Addr when b.ID is empty) to b's: b replaces the member's description
// as a whole, so a nil Weight sets DefaultWeight, as in Add, and does not
// keep the weight the member had. The address cannot change: Remove the
// backend and Add the new one.
func (g *Group) Update(b Backend) error {
	if !g.made() {
		return errNotNew
	}
	bs, err := g.normalize([]Backend{b})
	if err != nil {
		return err
	}
	b = bs[0]
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return g.errClosed
	}
	m, ok := g.byID[b.ID]
	if !ok {
		g.mu.Unlock()
		return &BackendError{Group: g.cfg.Name, ID: b.ID, Err: ErrUnknownBackend}
	}
	if old := m.desc.Load(); old.Addr != b.Addr {
		g.mu.Unlock()
		return &BackendError{Group: g.cfg.Name, ID: b.ID, Err: ErrAddressChange,
			Problem: fmt.Sprintf("%q to %q", old.Addr, b.Addr)}
	}
	if m.desc.Load().equal(b) {
		g.mu.Unlock() // nothing changes: no rebuild, no event
		return nil
	}
	m.set(b)
	g.commit([]Event{g.event(EventUpdated, b)})
	return nil
}

// Remove takes the backends with the given IDs out of the group. They
// receive no new requests from the moment Remove returns; the requests in
// flight on them finish undisturbed, and each is forgotten (EventRemoved)
// when its last request is done or after Config.DrainTimeout. Remove
// removes all of them or, if an ID is unknown, none.
func (g *Group) Remove(ids ...string) error {
	if !g.made() {
		return errNotNew
	}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return g.errClosed
	}
	for _, id := range ids {
		if _, ok := g.byID[id]; !ok {
			g.mu.Unlock()
			return &BackendError{Group: g.cfg.Name, ID: id, Err: ErrUnknownBackend}
		}
	}
	leaving := make([]*member, 0, len(ids))
	for _, id := range ids {
		if m, ok := g.byID[id]; ok { // an ID listed twice leaves once
			leaving = append(leaving, m)
			g.detach(m)
		}
	}
	g.commitRemoval(leaving, nil)
	return nil
}

// Set makes the group's membership exactly backends: it adds the new ones,
// updates the weight, zone and metadata of those it holds, and removes
// (drains) the rest, as one change with one rebuild of the pick set. A
// backend whose ID stays but whose address changes is replaced: the old
// one drains, the new one is added. Set applies all of it or, if any
// backend is invalid or the list holds a duplicate, none.
func (g *Group) Set(backends []Backend) error {
	if !g.made() {
		return errNotNew
	}
	bs, err := g.normalize(backends)
	if err != nil {
		return err
	}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return g.errClosed
	}
	want := make(map[string]bool, len(bs))
	for _, b := range bs {
		want[b.ID] = true
	}
	var leaving []*member
	for _, m := range g.members {
		if !want[m.desc.Load().ID] {
			leaving = append(leaving, m)
		}
	}
	for _, b := range bs {
		if m, ok := g.byID[b.ID]; ok && m.desc.Load().Addr != b.Addr {
			leaving = append(leaving, m)
		}
	}
	for _, m := range leaving {
		g.detach(m)
	}
	var evs []Event
	for _, b := range bs {
		if m, ok := g.byID[b.ID]; ok {
			if !m.desc.Load().equal(b) {
				m.set(b)
				evs = append(evs, g.event(EventUpdated, b))
			}
			continue
		}
		// No clash is possible: every member that stays is listed in bs
		// under its own ID and address, and bs holds no duplicates.
		g.insert(b)
		evs = append(evs, g.event(EventAdded, b))
	}
	if len(leaving) == 0 && len(evs) == 0 {
		g.mu.Unlock() // nothing changes: no rebuild
		return nil
	}
	g.commitRemoval(leaving, evs)
	return nil
}

// Backends returns the group's members in the order they were added, with
// IDs and weights filled in (Weight is never nil, and each backend's is a
// pointer of its own). Draining backends are not members; Stats shows them.
func (g *Group) Backends() []Backend {
	if !g.made() {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]Backend, len(g.members))
	for i, m := range g.members {
		out[i] = m.desc.Load().clone()
	}
	return out
}

// Subscribe registers f to receive the group's events. Events are
// delivered asynchronously, in order: each subscriber has a goroutine of
// its own, running while events wait for it, that calls f with one event
// at a time, in the order they happened, usually after the call that
// caused them has returned. No method of the group waits for f (Pick, Done
// and the other request calls never deliver events), so f may call any of
// them, Close included. A subscriber slower than the group's changes falls
// behind: at most MaxPendingEvents of its events wait, and beyond that the
// oldest are dropped and counted in Stats.EventsDropped. A panic in f is
// recovered and counted in Stats.SubscriberPanics; delivery goes on with
// the next event. Delivery ends with EventClosed; subscribing after it
// receives nothing. cancel stops delivery, but for an event being
// delivered when it is called.
func (g *Group) Subscribe(f func(Event)) (cancel func()) {
	if !g.made() {
		return func() {}
	}
	_, cancel = g.events.subscribe(f)
	return cancel
}

// Close stops the group: Pick fails with ErrClosed from the moment Close
// is called, every backend drains, the group leaves its Registry at once
// (so a new group may take its name), and EventClosed fires once the last
// backend is gone (delivered asynchronously, like every event: see
// Subscribe, but Close waits for Config.Logger to have logged it). Close
// waits for the drains like http.Server.Shutdown:
// it returns nil when every request in flight has finished, an error
// wrapping ErrDrainTimeout when Config.DrainTimeout ended some drains with
// requests still in flight, or one wrapping ctx.Err() if ctx is done
// first (the drains go on, ending by DrainTimeout at the latest). Closing a
// closed group returns an error wrapping ErrClosed.
func (g *Group) Close(ctx context.Context) error {
	if !g.made() {
		return errNotNew
	}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return g.errClosed
	}
	g.closed = true
	close(g.closing)
	cutBefore := g.cut
	leaving := g.members
	for _, m := range leaving {
		g.unwatch(m)
		delete(g.byID, m.desc.Load().ID)
	}
	g.members = nil
	g.commitRemoval(leaving, nil)
	if g.cfg.Registry != nil {
		g.cfg.Registry.remove(g)
	}
	// Probes stop at once: their contexts are cancelled. (No probe's
	// goroutine runs this: a subscriber that calls Close runs on a
	// delivery goroutine, never a probe's.)
	g.stopHealth()
	select {
	case <-g.idle:
	default:
		select {
		case <-g.idle:
		case <-ctx.Done():
			return &GroupError{Group: g.cfg.Name, Err: ctx.Err(), Problem: "backends still draining: " + g.stillDraining()}
		}
	}
	// The goroutine applying handoffs (see handoffs) has little left to do
	// once nothing drains: ejections of a closed group are no-ops.
	if err := g.settleHandoffs(ctx); err != nil {
		return &GroupError{Group: g.cfg.Name, Err: err, Problem: "ended drains are still being applied"}
	}
	if g.logged != nil { // the logger never calls back: it cannot wait for this Close
		select {
		case <-g.logged:
		case <-ctx.Done():
			return &GroupError{Group: g.cfg.Name, Err: ctx.Err(), Problem: "the logger is still writing the group's events"}
		}
	}
	g.mu.Lock()
	cut := g.cut - cutBefore
	g.mu.Unlock()
	if cut > 0 {
		return &GroupError{Group: g.cfg.Name, Err: ErrDrainTimeout,
			Problem: fmt.Sprintf("%d requests were still in flight after %v", cut, g.cfg.DrainTimeout)}
	}
	return nil
}

// errNotNew is the error of every method of a Group that New did not make.
var errNotNew = &GroupError{Err: ErrNotNew, Problem: "the zero Group cannot be used: make one with group.New"}

// made reports whether New made g. A Group is made whole before it is
// shared, so the read needs no lock.
func (g *Group) made() bool { return g.idle != nil }

// stillDraining says which backends drain and how many requests each has
// in flight, the first three, for Close's error.
func (g *Group) stillDraining() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var parts []string
	for i, m := range g.draining {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(g.draining)-i))
			break
		}
		d, at := m.desc.Load(), ""
		if d.Addr != d.ID {
			at = " (" + d.Addr + ")"
		}
		parts = append(parts, fmt.Sprintf("%q%s has %d in flight", d.ID, at, m.load.InFlight()))
	}
	return strings.Join(parts, ", ") + fmt.Sprintf(" (each Pick needs its Done; the drain timeout, %v, cuts them)", g.cfg.DrainTimeout)
}

// normalize validates bs and checks them for duplicates among themselves.
func (g *Group) normalize(bs []Backend) ([]Backend, error) {
	out := make([]Backend, len(bs))
	ids := make(map[string]bool, len(bs))
	addrs := make(map[string]bool, len(bs))
	for i, b := range bs {
		nb, err := b.normalize(g.cfg.Name, g.cfg.awaitReady)
		if err != nil {
			return nil, err
		}
		if ids[nb.ID] {
			return nil, &BackendError{Group: g.cfg.Name, ID: nb.ID, Err: ErrDuplicateID, Problem: "listed twice"}
		}
		if addrs[nb.Addr] {
			return nil, &BackendError{Group: g.cfg.Name, ID: nb.ID, Err: ErrDuplicateAddress, Problem: fmt.Sprintf("%q listed twice", nb.Addr)}
		}
		ids[nb.ID], addrs[nb.Addr] = true, true
		out[i] = nb
	}
	return out, nil
}

// clash reports whether b's ID or address is taken by a member. The caller
// holds g.mu.
func (g *Group) clash(b Backend) error {
	if _, ok := g.byID[b.ID]; ok {
		return &BackendError{Group: g.cfg.Name, ID: b.ID, Err: ErrDuplicateID, Problem: "already a member"}
	}
	for _, m := range g.members {
		if m.desc.Load().Addr == b.Addr {
			return &BackendError{Group: g.cfg.Name, ID: b.ID, Err: ErrDuplicateAddress,
				Problem: fmt.Sprintf("%q is the address of member %q", b.Addr, m.desc.Load().ID)}
		}
	}
	return nil
}

// insert makes a member of b. The caller holds g.mu.
func (g *Group) insert(b Backend) {
	m := &member{hot: hot{group: g}}
	if _, real := g.cfg.Clock.(health.RealClock); !real {
		m.load.SetClock(g.cfg.Clock.Now) // the latency estimate's and benches' time
	}
	m.set(b)
	if a := g.sticky; a != nil && a.codec != nil {
		m.tokens = a.codec.Tokens(b.ID) // the ID never changes
	}
	g.insertMember(m)
	g.admit(m)
}

func (g *Group) insertMember(m *member) {
	g.members = append(g.members, m)
	g.byID[m.desc.Load().ID] = m
	g.membershipChanged()
}

// detach takes m out of the member list (not yet out of the pick set).
// The caller holds g.mu.
func (g *Group) detach(m *member) {
	m.inSet.Store(false) // bindings to it move from now on
	g.unwatch(m)
	g.membershipChanged()
	delete(g.byID, m.desc.Load().ID)
	for i, x := range g.members {
		if x == m {
			g.members = append(g.members[:i:i], g.members[i+1:]...)
			break
		}
	}
}

func (m *member) set(b Backend) {
	if old := m.desc.Load(); old != nil && old.Zone != b.Zone {
		m.group.membershipChanged() // a zone is part of the choice of a subset
	}
	m.desc.Store(&b)
	m.weight = b.weight()
}

func (g *Group) event(t EventType, b Backend) Event {
	return Event{Type: t, Group: g.cfg.Name, Time: g.cfg.Clock.Now(), Backend: b.clone()}
}

// commit publishes a new pick set, queues evs for the subscribers and
// unlocks g.mu. The caller holds g.mu.
func (g *Group) commit(evs []Event) {
	evs = append(evs, g.rebuild()...)
	g.queue(evs)
	g.mu.Unlock()
}

// queue queues evs for the subscribers, in queues of MaxPendingEvents or
// twice the group's size: its members and draining backends, not counting
// those whose last request ended and handed over the end of their drain.
// The caller holds g.mu.
func (g *Group) queue(evs []Event) {
	n := len(g.members) + len(g.draining)
	if len(g.draining) > 0 {
		n -= g.endsHanded()
	}
	g.events.queue(max(MaxPendingEvents, 2*n), evs...)
}

// commitRemoval is commit for a change that also removes members: they
// leave the pick set first and only then are marked draining, so that a
// Pick that still holds an older snapshot and picks one of them sees the
// mark and picks again from the new snapshot. Their EventDraining come
// before the changes' events.
func (g *Group) commitRemoval(leaving []*member, changes []Event) {
	routeEvs := g.rebuild()
	evs := make([]Event, 0, len(leaving)+len(changes)+len(routeEvs)+1)
	for _, m := range leaving {
		g.draining = append(g.draining, m)
		m.state = health.Draining
		m.draining.Store(true)
		m.timer = g.cfg.Clock.AfterFunc(g.cfg.DrainTimeout, func() { g.endDrain(m, true) })
		ev := g.event(EventDraining, *m.desc.Load())
		ev.InFlight = m.load.InFlight()
		evs = append(evs, ev)
	}
	evs = append(evs, changes...) // after the draining: an ID may leave and come back
	evs = append(evs, routeEvs...)
	if g.maybeIdle() {
		evs = append(evs, Event{Type: EventClosed, Group: g.cfg.Name, Time: g.cfg.Clock.Now()})
	}
	g.queue(evs)
	var idle []*member
	for _, m := range leaving {
		if m.load.InFlight() == 0 {
			idle = append(idle, m)
		}
	}
	g.mu.Unlock()
	for _, m := range idle {
		g.endDrain(m, false)
	}
}

// endDrain forgets a draining member once its last request is done
// (timeout false) or the drain timeout passed (timeout true). It ends the
// drain at most once per member. A member the timeout removed with
// requests still in flight stays counted (outlived) until the last of them
// ends, which calls endDrain again to fold its counters into the totals.
// It runs no callback: its events are only queued.
func (g *Group) endDrain(m *member, timeout bool) {
	g.mu.Lock()
	g.endDrainLocked(m, timeout)
	g.mu.Unlock()
}

// endDrainLocked is endDrain for a caller that holds g.mu.
func (g *Group) endDrainLocked(m *member, timeout bool) {
	left := m.load.InFlight()
	i := slices.Index(g.draining, m)
	if i < 0 { // gone already; maybe the last late request of an outlived one
		if j := slices.Index(g.outlived, m); j >= 0 && !timeout && left == 0 {
			g.outlived = slices.Delete(g.outlived, j, j+1)
			g.fold(m)
		}
		return
	}
	if !timeout && left > 0 { // a late Pick is about to back off
		return
	}
	g.draining = slices.Delete(g.draining, i, i+1)
	if m.timer != nil {
		m.timer.Stop()
	}
	ev := g.event(EventRemoved, *m.desc.Load())
	if timeout && left > 0 {
		ev.InFlight = left
		g.cut += left
		g.outlived = append(g.outlived, m)
	} else {
		g.fold(m)
	}
	evs := []Event{ev}
	if g.maybeIdle() {
		evs = append(evs, Event{Type: EventClosed, Group: g.cfg.Name, Time: g.cfg.Clock.Now()})
	}
	g.queue(evs)
}

// fold adds what a removed member counted, now that no request of it is
// in flight, to the group's totals. The caller holds g.mu.
func (g *Group) fold(m *member) {
	g.gone.requests += m.requests()
	g.gone.failures += m.failures.Load()
	g.gone.stickyHits += m.stickyHits.Load()
}

// maybeIdle closes g.idle, and reports that it did, when the group is
// closed and nothing drains any more. The caller holds g.mu.
func (g *Group) maybeIdle() bool {
	if !g.closed || len(g.draining) > 0 {
		return false
	}
	select {
	case <-g.idle:
		return false
	default:
		close(g.idle)
		return true
	}
}

// rebuild computes the pick set from the members and publishes it. It
// returns the events of the routing change, if any: zones down or up,
// panic mode. The caller holds g.mu.
func (g *Group) rebuild() []Event {
	defer g.syncViews() // once the group's own snapshot is published
	if g.closed {
		g.publish(&snapshot{err: g.errClosed})
		return nil
	}
	evs := g.chooseSubset()
	r := g.routing()
	evs = append(evs, g.routeEvents(r)...)
	// Mark the members of the new pick set, before it is published; each
	// flag is written once, so a member that stays never reads false.
	g.gen++
	for _, m := range r.pick {
		m.mark = g.gen
	}
	for _, m := range g.members {
		if in := m.mark == g.gen; m.inSet.Load() != in {
			m.inSet.Store(in)
		}
	}
	if len(r.pick) == 0 {
		g.publish(g.noPick(r)) // says why, and whether Pick waits
		return evs
	}
	eps := make([]balancer.Endpoint, len(r.pick))
	for i, m := range r.pick {
		d := m.desc.Load()
		eps[i] = balancer.Endpoint{ID: d.ID, Addr: d.Addr, Zone: d.Zone, Weight: g.balanceWeight(m), Load: &m.load}
	}
	s := &snapshot{members: r.pick, eps: eps, picker: g.alg.Build(eps)}
	g.stickySnapshot(s, eps)
	g.publish(s)
	return evs
}

// routing is where picks go: the members of the pick set, the zone they
// are confined to ("" = every zone), whether the group is in panic, and how
// many members have a weight at all.
type routing struct {
	pick     []*member
	zone     string
	panic    bool
	weighted int
}

// routing applies the routing rules to the members of the subset (every
// member without Config.Subset): a member takes new
// requests when it is healthy and has a weight; with LocalZone set, only
// the local zone's while enough of them are healthy; in panic, every
// member with a weight that has been judged. Initial members are not yet
// judged: they count neither way for panic and never take requests, so a
// group whose backends are all new waits for their first checks rather
// than panic. The caller holds g.mu.
func (g *Group) routing() routing {
	var r routing
	var judged, healthy, local, localHealthy int
	lz := g.cfg.LocalZone
	for _, m := range g.members {
		if m.weight == 0 || m.outside {
			continue
		}
		r.weighted++
		if m.state == health.Initial {
			continue // not yet judged: counts neither way
		}
		judged++
		inZone := lz != "" && m.desc.Load().Zone == lz
		if inZone {
			local++
		}
		if m.state.Serving() {
			healthy++
			if inZone {
				localHealthy++
			}
		}
	}
	if p := g.cfg.PanicThreshold; p > 0 && judged > 0 && healthy*100 < p*judged {
		r.panic = true
		r.pick = g.pickSet(func(m *member) bool { return m.weight > 0 && m.state != health.Initial && !m.unready })
		return r
	}
	if localHealthy > 0 && localHealthy*100 >= g.cfg.LocalZoneMinHealthy*local {
		r.zone = lz
	}
	r.pick = g.pickSet(func(m *member) bool {
		return m.weight > 0 && m.state.Serving() && (r.zone == "" || m.desc.Load().Zone == r.zone)
	})
	return r
}

// pickSet returns the members of the subset that take new requests, in
// member order.
func (g *Group) pickSet(takes func(*member) bool) []*member {
	var out []*member
	for _, m := range g.members {
		if !m.outside && takes(m) {
			out = append(out, m)
		}
	}
	return out
}

// clone returns a copy of b that shares no map or weight with it.
func (b Backend) clone() Backend {
	if b.Weight != nil {
		b.Weight = Weight(*b.Weight)
	}
	b.Metadata = maps.Clone(b.Metadata)
	return b
}

// equal reports whether b and o, both normalized, describe the same
// backend identically.
func (b *Backend) equal(o Backend) bool {
	return b.ID == o.ID && b.Addr == o.Addr && *b.Weight == *o.Weight && b.Zone == o.Zone && maps.Equal(b.Metadata, o.Metadata)
}

// Available returns the number of backends that take new requests now:
// the pick set's size, as Stats().Available, read without a lock. 0 means
// Pick fails.
func (g *Group) Available() int {
	if s := g.snap.Load(); s != nil {
		return len(s.members)
	}
	return 0
}

// Len returns the number of members (draining backends not counted).
func (g *Group) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.members)
}
