package group

import "context"

// WaitEvents returns once every event queued so far has been delivered to
// every subscriber (and those their callbacks caused). It must not be
// called from a subscriber.
func WaitEvents(g *Group) {
	g.caughtUp()
	g.events.wait()
}

// CaughtUp returns once what request calls handed over (ejections, ends
// of drains) before it is applied: see handoffs.
func CaughtUp(g *Group) { g.caughtUp() }

// PendingEvents returns the number of events queued and not yet delivered,
// summed over subscribers.
func PendingEvents(g *Group) int {
	g.events.mu.Lock()
	defer g.events.mu.Unlock()
	n := 0
	for _, s := range g.events.subs {
		n += s.n
	}
	return n
}

// Backends returns the number of g's backends, draining ones included.
func Backends(g *Group) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.members) + len(g.draining)
}

// Warm makes g a running group, as if it had served: the members added
// from now on need Health.HealthyThreshold passed probes, as they would
// after the cold start (see coldStart).
func Warm(g *Group) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.warm = true
}

// Waiting returns the number of Picks and WaitReadys waiting now.
func Waiting(g *Group) int { return int(g.waiting.Load()) }

// SourcesPending returns the number of Syncs whose first update is not
// applied yet.
func SourcesPending(g *Group) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.syncing
}

// RunSync is Sync on the caller's goroutine: it returns when Sync's loop
// stops, with the error it stops with.
func RunSync(ctx context.Context, g *Group, src Source, cfg SyncConfig) error {
	if err := startSync(g, src, &cfg); err != nil {
		return err
	}
	return follow(ctx, g, src, cfg)
}

// AwaitReady returns cfg for a group that awaits readiness (see
// internal/adapterhook).
func AwaitReady(cfg Config) Config {
	cfg.awaitReady = true
	return cfg
}

// SetReady is adapterhook.SetReady.
func SetReady(g *Group, id string, ready bool, reason string) error {
	return g.setReady(id, ready, reason)
}

// HoldLock takes g's lock, as a change rebuilding the pick set does, until
// the returned function is called.
func HoldLock(g *Group) (release func()) {
	g.mu.Lock()
	return g.mu.Unlock
}
