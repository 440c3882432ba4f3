package group

import (
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

// events delivers a group's events to its subscribers: in the order they
// happened, one at a time, never while the group's lock is held, so a
// subscriber may call back into the group.
type events struct {
	mu       sync.Mutex
	pending  []Event
	flushing bool
	subs     []*subscriber // copy-on-write
}

type subscriber struct{ f func(Event) }

// queue records evs for delivery. The caller holds the group's lock, which
// orders events as the changes that cause them.
func (e *events) queue(evs ...Event) {
	e.mu.Lock()
	if len(e.subs) > 0 {
		e.pending = append(e.pending, evs...)
	}
	e.mu.Unlock()
}

// flush delivers queued events. Whoever finds no flush under way becomes
// the flusher and delivers until the queue is empty; everyone else returns
// at once, leaving their events to that flusher. So a subscriber that
// changes the group from inside its callback does not deadlock, and its
// events still arrive in order, after the current one. A subscriber that
// panics panics its flusher's goroutine; the events after the one it
// panicked on stay queued for the next flush.
func (e *events) flush() {
	e.mu.Lock()
	if e.flushing {
		e.mu.Unlock()
		return
	}
	e.flushing = true
	for len(e.pending) > 0 {
		evs, subs := e.pending, e.subs
		e.pending = nil
		e.mu.Unlock()
		e.deliver(evs, subs)
		e.mu.Lock()
	}
	e.flushing = false
	e.mu.Unlock()
}

// deliver calls every subscriber with every event. If one panics, it
// requeues the events not yet delivered and ends the flush before the
// panic goes on.
func (e *events) deliver(evs []Event, subs []*subscriber) {
	next := 0
	defer func() {
		if next < len(evs) { // a subscriber panicked on evs[next]
			e.mu.Lock()
			e.pending = append(evs[next+1:len(evs):len(evs)], e.pending...)
			e.flushing = false
			e.mu.Unlock()
		}
	}()
	for ; next < len(evs); next++ {
		for _, s := range subs {
			s.f(evs[next])
		}
	}
}

func (e *events) subscribe(f func(Event)) (cancel func()) {
	s := &subscriber{f: f}
	e.mu.Lock()
	e.subs = append(e.subs[:len(e.subs):len(e.subs)], s)
	e.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			e.mu.Lock()
			defer e.mu.Unlock()
			kept := make([]*subscriber, 0, len(e.subs))
			for _, x := range e.subs {
				if x != s {
					kept = append(kept, x)
				}
			}
			e.subs = kept
		})
	}
}
