package grpcgroup

import (
	"fmt"
	"slices"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/attributes"
	"google.golang.org/grpc/resolver"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
)

// Scheme is the resolver scheme of group targets: "elb:///orders" names
// the group "orders" of a group.Registry.
const Scheme = "elb"

// Register makes gRPC resolve elb:/// targets from reg's groups in every
// channel of the program, registering the resolver with gRPC's global
// resolver registry. It is meant for program start-up, like
// resolver.Register; a later call replaces the registry. Channels that
// should not share global state use WithRegistry instead.
func Register(reg *group.Registry) { resolver.Register(NewResolver(reg)) }

// WithRegistry returns a DialOption that resolves elb:/// targets from
// reg's groups for one channel (grpc.WithResolvers), leaving gRPC's global
// registry alone.
func WithRegistry(reg *group.Registry) grpc.DialOption { return grpc.WithResolvers(NewResolver(reg)) }

// NewResolver returns the resolver builder of scheme "elb" over reg. A
// channel to elb:///NAME receives the members of reg's group NAME as
// endpoints, each with an EndpointInfo, and every change to them
// (membership, weight, zone, health) as it happens.
func NewResolver(reg *group.Registry) resolver.Builder { return &resolverBuilder{reg: reg} }

// EndpointInfo is what the elb resolver says about an endpoint, beyond its
// address: the group member it is.
type EndpointInfo struct {
	ID     string
	Weight int // 0-100, as group.Backend.EffectiveWeight
	Zone   string
	// Serving reports that the member takes requests in its group (healthy,
	// not ejected), as the group's own health checks see it. The "elb"
	// policy sends no calls to an endpoint that is not serving.
	Serving bool
}

// GetEndpointInfo returns the EndpointInfo the elb resolver attached to
// ep, if any.
func GetEndpointInfo(ep resolver.Endpoint) (EndpointInfo, bool) {
	info, ok := ep.Attributes.Value(endpointKey{}).(EndpointInfo)
	return info, ok
}

// groupInfo is what the elb resolver says about the group as a whole, in
// resolver.State.Attributes.
type groupInfo struct {
	Name      string
	Algorithm string
}

type endpointKey struct{}
type groupKey struct{}

type resolverBuilder struct{ reg *group.Registry }

func (*resolverBuilder) Scheme() string { return Scheme }

func (b *resolverBuilder) Build(t resolver.Target, cc resolver.ClientConn, _ resolver.BuildOptions) (resolver.Resolver, error) {
	name := t.Endpoint()
	if name == "" {
		return nil, fmt.Errorf("elb: target %q names no group: want elb:///GROUP", t.String())
	}
	if b.reg == nil {
		return nil, fmt.Errorf("elb: target %q: no group registry (grpcgroup.Register or WithRegistry)", t.String())
	}
	g, ok := b.reg.Group(name)
	if !ok {
		return nil, fmt.Errorf("elb: target %q: the registry has no group %q", t.String(), name)
	}
	r := &groupResolver{g: g, cc: cc}
	r.cancel = g.Subscribe(func(group.Event) { r.push() })
	r.push()
	return r, nil
}

// groupResolver pushes a group's members to a channel.
type groupResolver struct {
	g      *group.Group
	cc     resolver.ClientConn
	cancel func()

	mu     sync.Mutex
	last   []EndpointInfo // what was pushed, with addresses in addrs
	addrs  []string
	closed bool
}

// push sends the group's members to the channel if they changed.
func (r *groupResolver) push() {
	r.mu.Lock() // held across Stats: pushes go out in the order of the changes
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	st := r.g.Stats()
	if st.Closed {
		r.last, r.addrs = nil, nil
		r.cc.ReportError(fmt.Errorf("elb: group %q is closed", st.Name))
		return
	}
	infos := make([]EndpointInfo, 0, len(st.Backends))
	addrs := make([]string, 0, len(st.Backends))
	for _, b := range st.Backends {
		if b.State == health.Draining {
			continue
		}
		infos = append(infos, EndpointInfo{ID: b.ID, Weight: b.Backend.EffectiveWeight(), Zone: b.Zone, Serving: b.State.Serving()})
		addrs = append(addrs, b.Addr)
	}
	if r.last != nil && slices.Equal(infos, r.last) && slices.Equal(addrs, r.addrs) {
		return
	}
	r.last, r.addrs = infos, addrs
	eps := make([]resolver.Endpoint, len(infos))
	for i, info := range infos {
		eps[i] = resolver.Endpoint{
			Addresses:  []resolver.Address{{Addr: addrs[i]}},
			Attributes: attributes.New(endpointKey{}, info),
		}
	}
	// An error means the policy rejected the list (an empty group): the
	// next change sends a new one.
	_ = r.cc.UpdateState(resolver.State{
		Endpoints:  eps,
		Attributes: attributes.New(groupKey{}, groupInfo{Name: st.Name, Algorithm: st.Algorithm}),
	})
}

// ResolveNow does nothing: every change is pushed as it happens.
func (*groupResolver) ResolveNow(resolver.ResolveNowOptions) {}

func (r *groupResolver) Close() {
	r.cancel()
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
}
