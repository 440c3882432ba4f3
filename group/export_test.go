package group

// PendingEvents returns the number of events queued and not yet delivered.
func PendingEvents(g *Group) int {
	g.events.mu.Lock()
	defer g.events.mu.Unlock()
	return len(g.events.pending)
}
