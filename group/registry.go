package group

import (
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/go-elb/elb/health"
)

// Registry is a set of groups by name: where a program's groups can be
// found by name (the gRPC resolver does), and where a backend can be traced
// to every group that holds it, by IP, address or ID. The zero value is an
// empty registry ready to use.
type Registry struct {
	mu     sync.RWMutex
	groups map[string]*Group
	dash   *dashboard // set by the first Handler call
}

// Location is where Registry.Find found a backend.
type Location struct {
	Group   string       `json:"group"`
	Backend Backend      `json:"backend"`
	State   health.State `json:"state"`
}

func (r *Registry) add(g *Group) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.groups[g.cfg.Name]; ok {
		return &GroupError{Group: g.cfg.Name, Err: ErrDuplicateGroup, Problem: "the registry already holds a group of that name"}
	}
	if r.groups == nil {
		r.groups = make(map[string]*Group)
	}
	r.groups[g.cfg.Name] = g
	if r.dash != nil {
		r.dash.watch(g)
	}
	return nil
}

func (r *Registry) remove(g *Group) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.groups[g.cfg.Name] == g {
		delete(r.groups, g.cfg.Name)
		if r.dash != nil {
			r.dash.unwatch(g)
		}
	}
}

// watch returns the registry's dashboard, making it on the first call:
// from then on it keeps the last events of every group the registry holds.
func (r *Registry) watch() *dashboard {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dash == nil {
		r.dash = &dashboard{groups: make(map[*Group]*groupWatch)}
		for _, g := range r.groups {
			r.dash.watch(g)
		}
	}
	return r.dash
}

// Group returns the group registered under name.
func (r *Registry) Group(name string) (*Group, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	g, ok := r.groups[name]
	return g, ok
}

// Groups returns the registered groups, sorted by name.
func (r *Registry) Groups() []*Group {
	r.mu.RLock()
	out := make([]*Group, 0, len(r.groups))
	for _, g := range r.groups {
		out = append(out, g)
	}
	r.mu.RUnlock()
	slices.SortFunc(out, func(a, b *Group) int { return strings.Compare(a.cfg.Name, b.cfg.Name) })
	return out
}

// Find returns every place a backend is, in any registered group, draining
// backends included (until their group is closed, when it leaves the
// registry): key matches a backend whose ID is key, whose address
// is key ("10.0.0.5:8080"), or whose host is key ("10.0.0.5"). An IP
// address, alone or in host:port, matches in any of its spellings
// ("[2001:db8::1]:80" finds "[2001:0db8:0:0:0:0:0:1]:80", and an
// IPv4-mapped IPv6 address its IPv4 address). Results are sorted by group
// name, then as Stats lists the backends. Find reads every backend of every
// group: O(total backends).
func (r *Registry) Find(key string) []Location {
	ip, ipErr := netip.ParseAddr(strings.Trim(key, "[]"))
	ap, apErr := netip.ParseAddrPort(key)
	var out []Location
	for _, g := range r.Groups() {
		for _, bs := range g.Stats().Backends {
			if bs.ID == key || bs.Addr == key || (ipErr == nil && hostIs(bs.Addr, ip)) ||
				(apErr == nil && addrIs(bs.Addr, ap)) || hostString(bs.Addr) == key {
				out = append(out, Location{Group: g.cfg.Name, Backend: bs.Backend, State: bs.State})
			}
		}
	}
	return out
}

// hostString returns the host part of a valid "host:port" address.
func hostString(addr string) string {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return addr
	}
	return strings.Trim(addr[:i], "[]")
}

// hostIs reports whether addr's host is the IP address ip.
func hostIs(addr string, ip netip.Addr) bool {
	a, err := netip.ParseAddr(hostString(addr))
	return err == nil && a.Unmap() == ip.Unmap()
}

// addrIs reports whether addr is the IP address and port ap.
func addrIs(addr string, ap netip.AddrPort) bool {
	a, err := netip.ParseAddrPort(addr)
	return err == nil && a.Port() == ap.Port() && a.Addr().Unmap() == ap.Addr().Unmap()
}
