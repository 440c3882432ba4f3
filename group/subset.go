package group

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/go-elb/elb/health"
	"github.com/go-elb/elb/internal/cfgerr"
	"github.com/go-elb/elb/internal/healthcheck"
	"github.com/go-elb/elb/internal/subset"
)

// DefaultSubsetSize is the size of a subset whose SubsetConfig.Size is 0.
const DefaultSubsetSize = 20

// MaxSubsetClients is the largest SubsetConfig.ClientCount: each client
// computes every client's subset, so a membership change costs it
// O(ClientCount x members) (see SubsetConfig).
const MaxSubsetClients = 100_000

// SubsetConfig turns on subsetting: elb runs inside every client, and
// without it each of C clients balances over, connects to and
// health-checks each of B backends, C x B connections and probes. With
// it, each client uses a subset of Size members, chosen from an identity
// of the client, and the same members whatever order it learnt them in:
// only the subset's members are in its pick set (so its adapters connect
// to them alone), only they are actively health-checked, and only their
// requests feed passive outlier detection. The other members stay
// members: Backends, Stats (where BackendStats.OutsideSubset marks them)
// and Registry.Find list them, but they are never probed and never picked.
//
// # Choosing the subset
//
// Two schemes, by what the client knows of itself:
//
//   - ClientIndex and ClientCount (ClientCount > 0): the client is number
//     ClientIndex of ClientCount clients of the group (a StatefulSet
//     ordinal, a task index). Every client computes the same assignment of
//     subsets to all ClientCount clients: rendezvous hashing with bounded
//     loads. The (client, member) pairs are ranked by a hash of both, and
//     taken best first, each while its client has fewer than Size members
//     and its member fewer than 1.1 times the mean number of clients per
//     member, C x Size / B, rounded (but at least the mean rounded up, so
//     that every client finds Size members). So no member has more than 10%
//     and half a client above the mean of clients, and with
//     weighted_round_robin over equal weights, of requests, except where the
//     mean is below 5 and not whole: there a member may have the mean
//     rounded up (at 6 clients, 5 members and subsets of 1, the mean is
//     1.2 and two members have 2); and a member added or removed
//     moves few pairs: the new member takes its best-ranked clients, each
//     of which drops its worst, and a pair moves elsewhere only along a
//     chain of displaced clients that ends at the first member with room
//     (measured: 1 to 1.5 times the ideal C x Size / B pairs in all, and
//     one of a client almost always, up to four where members are few
//     clients each; see the README). The cost is a ranking of every
//     member by every client, O(ClientCount x members) per membership
//     change (a change of health recomputes nothing): about 0.2 s of CPU
//     at 10,000 clients and 1,000 members, so add many backends with one
//     Add or Set, not one call each. Clients must agree on ClientCount
//     and hold distinct indexes; others' subsets are not balanced with
//     theirs.
//
//   - ClientID, or nothing (ClientCount 0): rendezvous hashing alone, as
//     gRPC's random subsetting (A68): the subset is the Size members that
//     rank first by a hash of ClientID and the member's ID. A membership
//     change changes at most one member of a subset, and about Size of
//     every B subsets; but the number of clients a member gets follows a
//     binomial law (at 300 clients, 300 members and subsets of 10, the
//     busiest has about twice the mean). An empty ClientID means a random
//     one, drawn when the group is created.
//
// Finagle's deterministic aperture and the SRE book's deterministic
// subsetting balance connections to within one, but place clients by the
// members' order or count: a member added or removed shifts every
// client's window (aperture) or reshuffles every round of subsets (SRE),
// moving 5 to 140 times the ideal C x Size / B pairs where the schemes
// here move 1 to 1.5 times it. go run ./internal/cmd/subsetsim prints the
// four schemes' figures (see the README's Subsetting).
//
// # Failures
//
// A member of the subset that fails is not replaced while at least
// MinHealthy members of the subset are healthy (and have a weight): one
// failure moves no connection elsewhere. Below that floor, members from
// outside join it, in the client's ranking of them, one for each healthy
// member missing; a member joining counts as healthy while its first
// health checks run, and one that turns out unhealthy stays (probed, so it
// may recover) while the next joins. They leave again, and stop being
// probed, once the subset's own members are back above the floor.
//
// # Zones
//
// With Config.LocalZone set, the subset is taken from the local zone
// first: when it has at least Size members, the subset is Size of them,
// chosen among the local zone's members alone (so ClientIndex and
// ClientCount number the clients of that zone); otherwise it is every
// member of the zone and, for the rest, members of the other zones.
// Replacements come from the local zone first too. Routing
// (LocalZoneMinHealthy, failover to every zone, PanicThreshold) then
// applies to the subset's members, and Stats.Zones counts them alone.
//
// Weights do not shape the choice: a member's weight shapes its share of
// each subset it is in (a member of weight 0 in the subset counts as not
// healthy, so below the floor another joins), and Update of a weight moves
// no member in or out; of a zone, with LocalZone, it may.
//
// A member outside the subset is, in BackendStats.State, Initial with
// health checks (it is not checked) or an adapter that awaits readiness
// (it is not connected to), and Healthy without; one that leaves
// the subset starts so again, its checks and ejection forgotten.
type SubsetConfig struct {
	// Size is the number of members in the subset, at least 1; a group
	// with fewer members uses them all. 0 means DefaultSubsetSize.
	Size int

	// ClientIndex is this client's number, 0 to ClientCount-1, when
	// ClientCount is set; it must be 0 otherwise.
	ClientIndex int

	// ClientCount is the number of clients of the group, 1 to
	// MaxSubsetClients, for balanced subsets (see above). 0 means this
	// client does not know it: its subset is ClientID's.
	ClientCount int

	// ClientID identifies the client for rendezvous hashing when
	// ClientCount is 0, such as its host name: a client keeps its subset
	// across restarts while its ID stays. Empty means a random ID, drawn
	// when the group is created. It must be empty when ClientCount is set.
	ClientID string

	// MinHealthy is the floor of healthy members below which members from
	// outside the subset join it, 1 to Size. 0 means half of Size,
	// rounded up.
	MinHealthy int
}

// normalized returns c with its defaults set, or the *elb.ConfigError of
// a field out of range, its Field relative to the SubsetConfig.
func (c SubsetConfig) normalized() (SubsetConfig, error) {
	field := func(name string, v any, problem string) (SubsetConfig, error) {
		return c, cfgerr.New(name, v, problem)
	}
	switch {
	case c.Size < 0:
		return field("Size", c.Size, "must not be negative (0 means the default, 20)")
	case c.Size == 0:
		c.Size = DefaultSubsetSize
	}
	switch {
	case c.ClientCount < 0 || c.ClientCount > MaxSubsetClients:
		return field("ClientCount", c.ClientCount, fmt.Sprintf("must be 0-%d", MaxSubsetClients))
	case c.ClientCount == 0 && c.ClientIndex != 0:
		return field("ClientIndex", c.ClientIndex, "needs ClientCount, the number of clients it counts from")
	case c.ClientCount > 0 && (c.ClientIndex < 0 || c.ClientIndex >= c.ClientCount):
		return field("ClientIndex", c.ClientIndex, fmt.Sprintf("must be 0-%d (below ClientCount)", c.ClientCount-1))
	case c.ClientCount > 0 && c.ClientID != "":
		return field("ClientID", c.ClientID, "must be empty with ClientCount: a client is known by its index or by its ID, not both")
	}
	switch {
	case c.MinHealthy < 0 || c.MinHealthy > c.Size:
		return field("MinHealthy", c.MinHealthy, fmt.Sprintf("must be 1-%d (Size)", c.Size))
	case c.MinHealthy == 0:
		c.MinHealthy = (c.Size + 1) / 2
	}
	return c, nil
}

// subsetter is a group's part of subsetting, guarded by Group.mu.
type subsetter struct {
	cfg   SubsetConfig // normalized
	key   uint64       // this client's rendezvous key
	stale bool         // the membership changed since base and rest were chosen
	base  []*member    // the subset chosen by membership alone
	rest  []*member    // the other members, in the order replacements join
	gen   uint64       // of the last choice: member.subGen
}

// initSubset validates Config.Subset and sets up subsetting.
func (g *Group) initSubset() error {
	if g.cfg.Subset == nil {
		return nil
	}
	c, err := g.cfg.Subset.normalized()
	if err != nil {
		return invalidConfig(g.cfg.Name, "Subset", err)
	}
	s := &subsetter{cfg: c, stale: true}
	switch {
	case c.ClientCount > 0:
		s.key = subset.IndexKey(c.ClientIndex)
	case c.ClientID != "":
		s.key = subset.Key(c.ClientID)
	default:
		s.key = rand.Uint64()
	}
	g.subset = s
	return nil
}

// membershipChanged marks the subset for a new choice. The caller holds
// g.mu.
func (g *Group) membershipChanged() {
	if g.subset != nil {
		g.subset.stale = true
	}
}

// chooseSubset brings the members' places in or outside the subset up to
// date, starting and stopping their health checks, and returns the events
// of the state changes of members that left it. The caller holds g.mu.
func (g *Group) chooseSubset() []Event {
	s := g.subset
	if s == nil {
		return nil
	}
	if s.stale {
		s.choose(g.members, g.cfg.LocalZone)
		s.stale = false
	}
	s.gen++
	healthy := 0
	for _, m := range s.base {
		m.subGen = s.gen
		if counts(m) {
			healthy++
		}
	}
	for i := 0; healthy < s.cfg.MinHealthy && i < len(s.rest); i++ {
		m := s.rest[i]
		m.subGen = s.gen
		if counts(m) {
			healthy++
		}
	}
	var evs []Event
	for _, m := range g.members {
		switch in := m.subGen == s.gen; {
		case in && m.outside:
			g.enterSubset(m)
		case !in && !m.outside:
			evs = append(evs, g.leaveSubset(m)...)
		}
	}
	return evs
}

// counts reports whether m counts toward the subset's floor of healthy
// members: it has a weight and is healthy, or joins the subset now, or
// awaits its first health checks (a member that fails them stops
// counting, and the next one joins). The caller holds g.mu.
func counts(m *member) bool {
	return m.weight > 0 && (m.outside || m.state == health.Initial || m.state.Serving())
}

// enterSubset starts checking m, which joins the subset, as a new member.
// The caller holds g.mu.
func (g *Group) enterSubset(m *member) {
	m.outside = false
	if g.cfg.awaitReady { // a new connection, which the adapter reports on
		m.unready, m.wasReady, m.unreadyWhy = true, false, "not connected yet"
	}
	if g.checker != nil {
		m.machine = healthcheck.NewMachine(g.checks)
		m.admitted = g.cfg.Clock.Now()
		m.coldStart = !g.warm
		d := m.desc.Load()
		g.checker.Add(healthcheck.Target{ID: d.ID, Addr: d.Addr})
	}
	if m.state = g.state(m); m.state == health.Healthy {
		g.becameHealthy(m) // a new connection: slow start
	}
}

// leaveSubset stops checking m, which leaves the subset, and forgets its
// checks and ejection; it returns the event of its change of state, if
// any. The caller holds g.mu.
func (g *Group) leaveSubset(m *member) []Event {
	m.outside = true
	g.unwatch(m)
	m.ejected, m.recheck = false, false
	m.errRun.Store(0)
	if g.checker != nil {
		m.machine = healthcheck.NewMachine(g.checks)
		m.coldStart = false
	}
	if g.cfg.awaitReady {
		m.unready, m.wasReady, m.unreadyWhy = true, false, "outside this client's subset"
	}
	return g.settle(m, "left this client's subset")
}

// inSubset returns the number of members in the subset (every member
// without subsetting). The caller holds g.mu.
func (g *Group) inSubset() int {
	if g.subset == nil {
		return len(g.members)
	}
	n := 0
	for _, m := range g.members {
		if !m.outside {
			n++
		}
	}
	return n
}

// choose chooses base and rest from the members: the local zone first.
func (s *subsetter) choose(members []*member, zone string) {
	local, others := members, []*member(nil)
	if zone != "" {
		local, others = nil, nil
		for _, m := range members {
			if m.desc.Load().Zone == zone {
				local = append(local, m)
			} else {
				others = append(others, m)
			}
		}
	}
	size := min(s.cfg.Size, len(members))
	if len(local) >= size {
		var rest []*member
		s.base, rest = s.pick(local, size)
		_, more := s.pick(others, 0)
		s.rest = append(rest, more...)
		return
	}
	_, all := s.pick(local, 0)
	var more []*member
	more, s.rest = s.pick(others, size-len(local))
	s.base = append(all, more...)
}

// pick returns n of ms by the client's scheme, and the others in the
// client's ranking, best first.
func (s *subsetter) pick(ms []*member, n int) (chosen, rest []*member) {
	if len(ms) == 0 {
		return nil, nil
	}
	type keyed struct {
		key uint64
		m   *member
	}
	ks := make([]keyed, len(ms))
	for i, m := range ms {
		ks[i] = keyed{subset.Key(m.desc.Load().ID), m}
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.m.desc.Load().ID, b.m.desc.Load().ID))
	})
	keys := make([]uint64, len(ks))
	for i, k := range ks {
		keys[i] = k.key
	}
	var idx []int32
	switch {
	case n == 0:
	case s.cfg.ClientCount > 0:
		idx = subset.Balanced(keys, s.cfg.ClientCount, n)[s.cfg.ClientIndex]
	default:
		idx = subset.Random(s.key, keys, n)
	}
	taken := make([]bool, len(ks))
	for _, i := range idx {
		taken[i] = true
		chosen = append(chosen, ks[i].m)
	}
	for _, i := range subset.Ranked(s.key, keys, len(keys)) {
		if !taken[i] {
			rest = append(rest, ks[i].m)
		}
	}
	return chosen, rest
}
