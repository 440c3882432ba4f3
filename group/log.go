package group

import (
	"context"
	"log/slog"

	"github.com/go-elb/elb/health"
)

// Log attribute keys: the attributes of the records Config.Logger
// receives. Every record has LogKeyGroup and LogKeyEvent; the others
// appear where the event has them:
//
//   - backend, addr, zone: the backend concerned (added, updated,
//     draining, removed, state_changed); zone only when the backend has
//     one.
//   - weight: the backend's weight, 0-100 (DefaultWeight for one added
//     without a weight; added and updated only).
//   - from, state, reason: a state change (state_changed).
//   - in_flight: the requests in flight when a drain began (draining), or
//     still in flight when the drain timeout ended it (removed; 0 means it
//     drained cleanly).
//   - zone: the zone of zone_down and zone_up.
const (
	LogKeyGroup    = "group"     // the group's name
	LogKeyEvent    = "event"     // the EventType's name, such as "state_changed"
	LogKeyBackend  = "backend"   // the backend's ID
	LogKeyAddr     = "addr"      // the backend's address
	LogKeyZone     = "zone"      // the backend's zone, or the zone of a zone event
	LogKeyWeight   = "weight"    // the backend's weight, 0-100
	LogKeyFrom     = "from"      // the health state before a change
	LogKeyState    = "state"     // the health state after a change
	LogKeyReason   = "reason"    // why the state changed
	LogKeyInFlight = "in_flight" // requests in flight
)

// eventMessages are the records' messages, by event type.
var eventMessages = [...]string{
	EventAdded:        "backend added",
	EventUpdated:      "backend updated",
	EventDraining:     "backend draining",
	EventRemoved:      "backend removed",
	EventClosed:       "group closed",
	EventStateChanged: "backend state changed",
	EventZoneDown:     "zone down: no healthy backend left",
	EventZoneUp:       "zone up: a backend is healthy again",
	EventPanic:        "panic mode: too few healthy backends, routing to all",
	EventPanicEnd:     "panic mode ended",
}

// startLogging subscribes Config.Logger, if set, to the group's events.
// It is called once, by New, before the group has a member: no event is
// missed. The subscription lasts as long as the group; Close waits for it
// to have logged EventClosed.
func (g *Group) startLogging() {
	if l := g.cfg.Logger; l != nil {
		s, _ := g.events.subscribe(func(e Event) { logEvent(l, e) })
		g.logged = s.ended
	}
}

// logEvent writes e to l as one record, stamped with the event's time
// (the group's clock), at the level eventLevel gives it.
func logEvent(l *slog.Logger, e Event) {
	ctx := context.Background()
	level := eventLevel(e)
	if !l.Enabled(ctx, level) {
		return
	}
	msg := "event"
	if int(e.Type) < len(eventMessages) && eventMessages[e.Type] != "" {
		msg = eventMessages[e.Type]
	}
	r := slog.NewRecord(e.Time, level, msg, 0)
	r.AddAttrs(slog.String(LogKeyGroup, e.Group), slog.String(LogKeyEvent, e.Type.String()))
	switch e.Type {
	case EventClosed, EventPanic, EventPanicEnd:
	case EventZoneDown, EventZoneUp:
		r.AddAttrs(slog.String(LogKeyZone, e.Zone))
	default:
		b := e.Backend
		r.AddAttrs(slog.String(LogKeyBackend, b.ID), slog.String(LogKeyAddr, b.Addr))
		if b.Zone != "" {
			r.AddAttrs(slog.String(LogKeyZone, b.Zone))
		}
		switch e.Type {
		case EventAdded, EventUpdated:
			r.AddAttrs(slog.Int(LogKeyWeight, b.weight()))
		case EventStateChanged:
			r.AddAttrs(slog.String(LogKeyFrom, e.From.String()), slog.String(LogKeyState, e.State.String()))
			if e.Reason != "" {
				r.AddAttrs(slog.String(LogKeyReason, e.Reason))
			}
		case EventDraining, EventRemoved:
			r.AddAttrs(slog.Int64(LogKeyInFlight, e.InFlight))
		}
	}
	_ = l.Handler().Handle(ctx, r) // nowhere to report a failure to log
}

// eventLevel is the level an event is logged at: Warn for what lowers the
// group's capacity (a backend turning unhealthy or ejected, a zone down,
// panic mode, a drain the timeout cut short), Info for the rest.
func eventLevel(e Event) slog.Level {
	switch e.Type {
	case EventZoneDown, EventPanic:
		return slog.LevelWarn
	case EventStateChanged:
		if e.State == health.Unhealthy || e.State == health.Ejected {
			return slog.LevelWarn
		}
	case EventRemoved:
		if e.InFlight > 0 {
			return slog.LevelWarn
		}
	}
	return slog.LevelInfo
}
