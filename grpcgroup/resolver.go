package grpcgroup

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/attributes"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/serviceconfig"

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
func Register(reg *group.Registry, opts ...ResolverOption) {
	resolver.Register(NewResolver(reg, opts...))
}

// WithRegistry returns a DialOption that resolves elb:/// targets from
// reg's groups for one channel (grpc.WithResolvers), leaving gRPC's global
// registry alone.
func WithRegistry(reg *group.Registry, opts ...ResolverOption) grpc.DialOption {
	return grpc.WithResolvers(NewResolver(reg, opts...))
}

// NewResolver returns the resolver builder of scheme "elb" over reg. A
// channel to elb:///NAME receives the members of reg's group NAME as
// endpoints, each with an EndpointInfo, and every change to them
// (membership, weight, zone, health) as it happens. Unless the channel
// already runs the "elb" policy, it also supplies a service config that
// selects it (see the package documentation).
func NewResolver(reg *group.Registry, opts ...ResolverOption) resolver.Builder {
	b := &resolverBuilder{reg: reg}
	for _, o := range opts {
		o(&b.opts)
	}
	return b
}

// EndpointInfo is what the elb resolver says about an endpoint, beyond its
// address: the group member it is.
type EndpointInfo struct {
	ID     string // the member's ID in its group
	Weight int    // 0-100, the member's Backend.Weight (0: no new requests)
	Zone   string // the member's zone, possibly empty
	// Serving reports that the member takes requests in its group (healthy,
	// not ejected), as the group's own health checks see it. The "elb"
	// policy sends no calls to an endpoint that is not serving.
	Serving bool
	// Pending reports that the group's first health checks of the member
	// are under way (health.Initial): calls wait for them rather than fail.
	Pending bool
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
	Group     *group.Group // the group itself, which the "elb" policy picks from
	link      *scLink      // the resolver's: see scLink
	probe     bool         // the resolver's probe: see groupResolver.update
}

type endpointKey struct{}
type groupKey struct{}

type resolverBuilder struct {
	reg  *group.Registry
	opts resolverOptions

	mu   sync.Mutex
	seen map[string]bool // the names its resolvers found a group under
}

// found records that a resolver found a group under name. A group leaves
// its registry only by Close, so a name found once and missing now is a
// closed group's.
func (b *resolverBuilder) found(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.seen == nil {
		b.seen = make(map[string]bool)
	}
	b.seen[name] = true
}

// missing is the error of a channel whose group the registry does not
// hold (see found).
func (b *resolverBuilder) missing(t resolver.Target, name string) error {
	b.mu.Lock()
	closed := b.seen[name]
	b.mu.Unlock()
	if closed {
		return fmt.Errorf("elb: target %q: the registry's group %q is closed (the channel waits for a group registered anew under that name)", t.String(), name)
	}
	return fmt.Errorf("elb: target %q: the registry has no group %q (none registered yet, or it was closed)", t.String(), name)
}

func (*resolverBuilder) Scheme() string { return Scheme }

func (b *resolverBuilder) Build(t resolver.Target, cc resolver.ClientConn, opts resolver.BuildOptions) (resolver.Resolver, error) {
	name := t.Endpoint()
	if name == "" {
		return nil, fmt.Errorf("elb: target %q names no group: want elb:///GROUP", t.String())
	}
	if b.reg == nil {
		return nil, fmt.Errorf("elb: target %q: no group registry (grpcgroup.Register or WithRegistry)", t.String())
	}
	if b.opts.err != nil {
		return nil, b.opts.err
	}
	r := &groupResolver{b: b, reg: b.reg, name: name, cc: cc, kick: make(chan struct{}, 1), stop: make(chan struct{}), link: new(scLink)}
	if !opts.DisableServiceConfig {
		r.sc = cc.ParseServiceConfig(b.opts.serviceConfig())
		if r.sc.Err != nil {
			return nil, fmt.Errorf("elb: target %q: the resolver's service config: %w", t.String(), r.sc.Err)
		}
	}
	if !r.attach() {
		// Not registered yet, or closed: the channel waits for one (see
		// run), and its calls fail (or wait, with WaitForReady) with this
		// error meanwhile.
		cc.ReportError(b.missing(t, name))
	}
	go r.run()
	return r, nil
}

// groupResolver pushes a group's members to a channel. The group's events
// only wake its goroutine, which reads the group and pushes what changed:
// a change to the group (made by a request's Done, say) never waits for
// the channels that watch it.
type groupResolver struct {
	b    *resolverBuilder
	reg  *group.Registry
	name string
	cc   resolver.ClientConn
	kick chan struct{} // the group changed, or another one was attached
	stop chan struct{} // closed by Close

	// sc is the service config the resolver supplies, nil with
	// grpc.WithDisableServiceConfig; link tells whether the channel runs
	// the "elb" policy without it.
	sc   *serviceconfig.ParseResult
	link *scLink

	mu     sync.Mutex
	g      *group.Group // the group watched; nil after it closed
	cancel func()       // ends the subscription to g
	last   []published  // what was pushed last
	probed bool         // the probe went out (see update)
	supply bool         // the channel needs sc: every update carries it
	closed bool
}

// attach watches the registry's group of r's name, if it is not the one
// watched already. It reports whether the registry has the group.
func (r *groupResolver) attach() bool {
	g, ok := r.reg.Group(r.name)
	if ok {
		r.b.found(r.name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !ok || r.closed || g == r.g {
		return ok
	}
	if r.cancel != nil {
		r.cancel()
	}
	r.g, r.last = g, nil
	r.cancel = g.Subscribe(func(group.Event) { r.poke() })
	r.poke()
	return true
}

func (r *groupResolver) poke() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// run pushes the group's members after each change, and while the group
// is closed looks every awaitInterval for one registered anew under its
// name, until Close.
func (r *groupResolver) run() {
	t := time.NewTicker(awaitInterval)
	defer t.Stop()
	for {
		var await <-chan time.Time
		r.mu.Lock()
		if r.g == nil {
			await = t.C
		}
		r.mu.Unlock()
		select {
		case <-r.stop:
			return
		case <-r.kick:
			r.push()
		case <-await:
			r.attach()
		}
	}
}

// push sends the watched group's members to the channel if they changed.
// A closed group sends an empty list (its endpoints take no more calls)
// and an error, and run starts looking for a new group.
func (r *groupResolver) push() {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.g
	if r.closed || g == nil {
		return
	}
	st := g.Stats()
	if st.Closed {
		r.g, r.last = nil, nil
		r.cancel()
		r.cancel = nil
		// The closed group goes with the list, so that the channel's
		// policy keeps picking from it (ErrClosed) and does not take
		// the target for another resolver's, building a group of its own.
		_ = r.update(resolver.State{Endpoints: []resolver.Endpoint{},
			Attributes: attributes.New(groupKey{}, groupInfo{Name: st.Name, Algorithm: st.Algorithm, Group: g, link: r.link})})
		r.cc.ReportError(fmt.Errorf("elb: group %q is closed", st.Name))
		return
	}
	list := make([]published, 0, len(st.Backends))
	for _, b := range st.Backends {
		if b.State == health.Draining || b.OutsideSubset { // outside the subset: no connection
			continue
		}
		list = append(list, published{addr: b.Addr, info: EndpointInfo{ID: b.ID, Weight: *b.Weight,
			Zone: b.Zone, Serving: b.State.Serving(), Pending: b.State == health.Initial}})
	}
	if r.last != nil && slices.Equal(list, r.last) {
		return
	}
	r.last = list
	eps := make([]resolver.Endpoint, len(list))
	for i, p := range list {
		eps[i] = resolver.Endpoint{
			Addresses:  []resolver.Address{{Addr: p.addr}},
			Attributes: attributes.New(endpointKey{}, p.info),
		}
	}
	// An error means the policy rejected the list (an empty group): the
	// next change sends a new one.
	_ = r.update(resolver.State{
		Endpoints:  eps,
		Attributes: attributes.New(groupKey{}, groupInfo{Name: st.Name, Algorithm: st.Algorithm, Group: g, link: r.link}),
	})
}

// update sends s to the channel, with the resolver's service config when
// the channel needs it. It finds out first, with a probe: an update with
// no service config and one endpoint of no address. If the probe reaches
// an "elb" policy (one the user's default service config, or an earlier
// config of the channel, selects), that policy is the user's choice, and
// the resolver never sends its own config; otherwise the channel runs
// gRPC's pick_first or a policy of the user's default service config, and
// the resolver's config, which gRPC prefers to the default one, replaces
// it. The probe has no address so that the policy it reaches connects to
// nothing (pick_first and endpointsharding's children report CONNECTING
// and queue calls): no call can go by that policy, around the group,
// before the resolver's config replaces it. The caller holds r.mu.
func (r *groupResolver) update(s resolver.State) error {
	if r.sc != nil && !r.probed {
		r.probed = true
		// UpdateState returns once the policy has taken the update.
		_ = r.cc.UpdateState(resolver.State{Endpoints: []resolver.Endpoint{{}},
			Attributes: attributes.New(groupKey{}, groupInfo{link: r.link, probe: true})})
		r.supply = !r.link.claimed.Load()
	}
	if r.supply {
		s.ServiceConfig = r.sc
	}
	return r.cc.UpdateState(s)
}

// published is one endpoint as the resolver pushed it.
type published struct {
	addr string
	info EndpointInfo
}

// awaitInterval is how often a resolver whose group closed looks for a new
// one of the same name.
const awaitInterval = 250 * time.Millisecond

// ResolveNow looks the group up again, in case it was closed and another
// registered under its name; every change of the group itself is pushed
// as it happens.
func (r *groupResolver) ResolveNow(resolver.ResolveNowOptions) { r.attach() }

func (r *groupResolver) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.closed = true
	if r.cancel != nil {
		r.cancel()
	}
	close(r.stop)
}
