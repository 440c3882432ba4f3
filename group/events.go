package group

import (
	"slices"
	"sync"
	"time"

	"github.com/go-elb/elb/health"
)

// EventType says what happened to a group or one of its backends.
type EventType uint8

// The event types.
const (
	// EventAdded: a backend joined the group.
	EventAdded EventType = iota + 1
	// EventUpdated: a backend's weight, zone or metadata changed.
	EventUpdated
	// EventDraining: a backend left the pick set because it was removed or
	// its group closed; requests in flight on it go on.
	EventDraining
	// EventRemoved: a draining backend is gone: its last request finished,
	// or the drain timeout passed with Event.InFlight requests still open.
	EventRemoved
	// EventClosed: the group closed and every backend has been removed.
	EventClosed
	// EventStateChanged: a backend's health state changed, from Event.From
	// to Event.State, for Event.Reason.
	EventStateChanged
	// EventZoneDown: Event.Zone, which had a healthy backend, has none
	// left.
	EventZoneDown
	// EventZoneUp: Event.Zone has a healthy backend again after
	// EventZoneDown.
	EventZoneUp
	// EventPanic: too few backends are healthy (Config.PanicThreshold), so
	// picks go to every backend with a weight, healthy or not.
	EventPanic
	// EventPanicEnd: enough backends are healthy again; panic mode ends.
	EventPanicEnd
)

var eventNames = [...]string{"", "added", "updated", "draining", "removed", "closed",
	"state_changed", "zone_down", "zone_up", "panic", "panic_end"}

// String returns the event type's name, such as "added".
func (t EventType) String() string {
	if int(t) < len(eventNames) && t != 0 {
		return eventNames[t]
	}
	return "unknown"
}

// MarshalText encodes the event type as its name.
func (t EventType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// Event is a change in a group, delivered to the functions registered with
// Subscribe.
type Event struct {
	Type    EventType `json:"type"`
	Group   string    `json:"group"`
	Time    time.Time `json:"time"`
	Backend Backend   `json:"backend"` // the backend concerned; zero for EventClosed
	// InFlight is, for EventDraining, the number of requests in flight on
	// the backend when its drain began; for EventRemoved, the number still
	// in flight when the drain timeout ended the drain (0 = drained
	// cleanly).
	InFlight int64 `json:"in_flight,omitempty"`
	// From and State are, for EventStateChanged, the backend's health state
	// before and after the change; health.Unknown (omitted from JSON) for
	// other events.
	From  health.State `json:"from,omitzero"`
	State health.State `json:"state,omitzero"`
	// Reason says why the state changed, such as the last probe's error or
	// "5 consecutive failed requests".
	Reason string `json:"reason,omitempty"`
	// Zone is the zone of EventZoneDown and EventZoneUp.
	Zone string `json:"zone,omitempty"`
}

// MaxPendingEvents is how many events may wait for one subscriber, or
// twice the number of the group's backends (draining ones included, but
// for those whose last request has ended) if that is more, so that one
// change of every backend (a Set) fits. A
// subscriber slower than the group's changes falls behind; once its queue
// is full, each new event drops the oldest one waiting, and
// Stats.EventsDropped counts it. At 160 bytes an event (and its
// backend's metadata, shared by every subscriber), a stalled subscriber
// of a group of up to 512 backends holds about 160 KB.
const MaxPendingEvents = 1024

// events delivers a group's events to its subscribers: each subscriber has
// a bounded queue (see MaxPendingEvents) and, while the queue holds any, a
// goroutine of its own that delivers them in order, one at a time. Whoever
// changes the group only appends to the queues, under a short lock, so no
// caller ever waits for a subscriber, and a subscriber may call back into
// the group.
type events struct {
	mu      sync.Mutex
	idle    sync.Cond     // on mu: broadcast when a delivery goroutine exits
	subs    []*subscriber // in the order they subscribed
	running int           // delivery goroutines
	closed  bool          // EventClosed is queued: nothing follows it
	dropped uint64        // events dropped from full queues
	panics  uint64        // subscriber calls that panicked
}

// subscriber is one Subscribe's function and its queue, a ring buffer that
// grows up to the queue's limit. All but f are guarded by events.mu.
type subscriber struct {
	f          func(Event)
	ring       []Event
	head, n    int           // the oldest event's index, and how many are queued
	delivering bool          // a goroutine delivers the queue
	gone       bool          // cancelled
	ended      chan struct{} // closed once EventClosed is delivered, or at cancel
}

// queue appends evs to every subscriber's queue, which holds at most limit
// events, starting its delivery goroutine if none runs. The caller holds
// the group's lock, which orders events as the changes that cause them. An
// EventClosed ends the stream.
func (e *events) queue(limit int, evs ...Event) {
	if len(evs) == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	for _, s := range e.subs {
		for _, ev := range evs {
			e.dropped += s.push(ev, limit)
		}
		if !s.delivering {
			s.delivering = true
			e.running++
			go e.deliver(s)
		}
	}
	if evs[len(evs)-1].Type == EventClosed {
		e.closed, e.subs = true, nil
	}
}

// push appends ev to s's queue, dropping the oldest events to keep at
// most limit, and returns how many it dropped.
func (s *subscriber) push(ev Event, limit int) (dropped uint64) {
	for s.n >= limit {
		s.ring[s.head] = Event{}
		s.head = (s.head + 1) % len(s.ring)
		s.n--
		dropped++
	}
	if s.n == len(s.ring) { // grow; s.n < limit
		ring := make([]Event, min(max(2*len(s.ring), 8), limit))
		for i := range s.n {
			ring[i] = s.ring[(s.head+i)%len(s.ring)]
		}
		s.ring, s.head = ring, 0
	}
	s.ring[(s.head+s.n)%len(s.ring)] = ev
	s.n++
	return dropped
}

// deliver is a subscriber's delivery goroutine: it hands the queued events
// to the subscriber one at a time until the queue is empty or the
// subscriber cancelled, then exits.
func (e *events) deliver(s *subscriber) {
	for {
		e.mu.Lock()
		if s.n == 0 || s.gone {
			if e.closed || s.gone {
				s.end()
			}
			s.delivering = false
			if len(s.ring) > 64 || s.gone {
				s.ring, s.head = nil, 0 // a storm's buffer is not kept
			}
			e.running--
			e.idle.Broadcast()
			e.mu.Unlock()
			return
		}
		ev := s.ring[s.head]
		s.ring[s.head] = Event{}
		s.head = (s.head + 1) % len(s.ring)
		s.n--
		e.mu.Unlock()
		e.call(s.f, ev)
	}
}

// end closes s.ended, once. The caller holds events.mu.
func (s *subscriber) end() {
	select {
	case <-s.ended:
	default:
		close(s.ended)
	}
}

// call calls f with ev, its backend's Weight a pointer of f's own (the
// queued event is shared by every subscriber). A panic is recovered and
// counted: it loses the subscriber that one event, and no caller of the
// group is disturbed.
func (e *events) call(f func(Event), ev Event) {
	if ev.Backend.Weight != nil {
		ev.Backend.Weight = Weight(*ev.Backend.Weight)
	}
	defer func() {
		if recover() != nil {
			e.mu.Lock()
			e.panics++
			e.mu.Unlock()
		}
	}()
	f(ev)
}

// wait returns once every event queued so far has been delivered (and any
// a subscriber's callback queued meanwhile): for tests. It must not be
// called from a subscriber.
func (e *events) wait() {
	e.mu.Lock()
	if e.idle.L == nil {
		e.idle.L = &e.mu
	}
	for e.running > 0 {
		e.idle.Wait()
	}
	e.mu.Unlock()
}

// counts returns the events dropped from full queues and the subscriber
// calls that panicked.
func (e *events) counts() (dropped, panics uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.dropped, e.panics
}

// subscribe adds a subscriber. Its ended channel is closed when the
// stream ends (after the subscriber has had EventClosed) or at cancel.
func (e *events) subscribe(f func(Event)) (s *subscriber, cancel func()) {
	s = &subscriber{f: f, ended: make(chan struct{})}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		close(s.ended)
		return s, func() {}
	}
	e.subs = append(e.subs, s)
	return s, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if i := slices.Index(e.subs, s); i >= 0 {
			e.subs = slices.Delete(e.subs, i, i+1)
		}
		s.gone = true
		if !s.delivering {
			s.ring, s.head, s.n = nil, 0, 0
			s.end()
		}
	}
}
