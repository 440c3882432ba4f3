package group

// WaitEvents returns once every event queued so far has been delivered to
// every subscriber (and those their callbacks caused). It must not be
// called from a subscriber.
func WaitEvents(g *Group) { g.events.wait() }

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

// Warm makes g a running group, as if it had served: the members added
// from now on need Health.HealthyThreshold passed probes, as they would
// after the cold start (see coldStart).
func Warm(g *Group) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.warm = true
}
