package grpcgroup

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	gbalancer "google.golang.org/grpc/balancer"
	"google.golang.org/grpc/balancer/endpointsharding"
	"google.golang.org/grpc/balancer/pickfirst"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/grpclog"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/serviceconfig"
	"google.golang.org/grpc/status"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
	"github.com/go-elb/elb/internal/adapterhook"
)

// Name is the name of the LB policy, for a service config's
// loadBalancingConfig: {"loadBalancingConfig": [{"elb": {...}}]}.
const Name = "elb"

var logger = grpclog.Component("elb")

// Channels holds the group of every channel using the "elb" policy under
// another resolver than elb:/// (dns:///, passthrough, unix, a manual
// one), under the name "TARGET#N": TARGET is the target's endpoint
// ("orders:8080" for dns:///orders:8080), N numbers the channels' groups
// from 1. Its Stats show where each channel's calls went; a group leaves
// when its channel closes (or its policy's config changes, which builds a
// new group; a group closed by someone else is replaced by a new one at
// the resolver's next update). A channel to elb:///NAME has no group of its own: it picks
// from the registry's group NAME (see the package documentation).
var Channels group.Registry

var channelSeq atomic.Uint64

func init() { gbalancer.Register(builder{}) }

type builder struct{}

func (builder) Name() string { return Name }

func (builder) ParseConfig(js json.RawMessage) (serviceconfig.LoadBalancingConfig, error) {
	return ParseConfig(js)
}

func (builder) Build(cc gbalancer.ClientConn, opts gbalancer.BuildOptions) gbalancer.Balancer {
	b := &elbBalancer{
		ClientConn: cc,
		name:       opts.Target.Endpoint(),
		eps:        make(map[string]*endpoint),
		kick:       make(chan struct{}, 1),
		stop:       make(chan struct{}),
	}
	b.child = endpointsharding.NewBalancer(b, opts, gbalancer.Get(pickfirst.Name).Build, endpointsharding.Options{})
	go b.refresh()
	return b
}

// elbBalancer is the "elb" policy of one channel. Its endpoints are the
// members of a group, which decides where each call goes: the registry's
// group behind an elb:/// target, or a group of the channel's own under
// other resolvers. The channel picks through a group.View of it:
// endpointsharding keeps a pick_first child per endpoint, whose
// connectivity the view learns through SetReady, and whose picker a pick
// reaches through the member's attachment in the view.
//
// gRPC calls the balancer.Balancer methods one at a time; the group's
// events (health checks, ejections) arrive on other goroutines and only
// ask refresh for a new picker.
type elbBalancer struct {
	gbalancer.ClientConn // the channel; NewSubConn and UpdateState intercepted
	child                gbalancer.Balancer
	name                 string // the target's endpoint: the group's name under other resolvers

	mu         sync.Mutex
	cfg        *Config
	src        groupInfo    // the group behind an elb:/// target, or {Name: name}
	g          *group.Group // the group picked from; nil until the first resolver update
	own        bool         // g is the channel's own (other resolvers): b closes it
	view       *group.View  // the channel's view of g
	unsub      func()
	eps        map[string]*endpoint // by each of their addresses
	childState gbalancer.State      // endpointsharding's last state
	warned     string               // the config fields last warned about as ignored
	closed     bool

	kick chan struct{} // a group event: build a new picker
	stop chan struct{}
}

// endpoint is one endpoint of the channel and member of its group.
type endpoint struct {
	addr   string                           // its first address, the member's; never changes
	picker atomic.Pointer[gbalancer.Picker] // its pick_first child's
	id     string                           // the member's ID; guarded by elbBalancer.mu, as is the rest
	conn   connectivity.State               // the child's state
	why    string                           // why it is not READY

	sc      gbalancer.SubConn // the connection it uses, while READY (health checks)
	hc      grpc.ClientConnInterface
	closeHC func()

	oob         *oobListener // out-of-band load reports on sc; nil = none
	oobStop     func()
	oobInterval time.Duration
}

// readiness is the endpoint's readiness in the channel's view: whether its
// connection is READY, and the reason when not. (Whether its member takes
// calls at all is its group's business.) The caller holds
// elbBalancer.mu.
func (ep *endpoint) readiness() group.Readiness {
	r := group.Readiness{ID: ep.id, Ready: ep.conn == connectivity.Ready, Reason: "connected"}
	switch {
	case r.Ready:
	case ep.why != "":
		r.Reason = "connection " + ep.conn.String() + ": " + ep.why
	default:
		r.Reason = "connection " + ep.conn.String()
	}
	return r
}

// member is what a resolver update says of one endpoint.
type member struct {
	ep *endpoint
	id string
}

func (b *elbBalancer) UpdateClientConnState(ccs gbalancer.ClientConnState) error {
	cfg, _ := ccs.BalancerConfig.(*Config)
	if cfg == nil {
		cfg, _ = ParseConfig([]byte("{}"))
	}
	src, ok := ccs.ResolverState.Attributes.Value(groupKey{}).(groupInfo)
	if !ok {
		src = groupInfo{Name: b.name}
	}
	if src.link != nil {
		src.link.claimed.Store(true) // the elb resolver: the channel runs elb
		if src.probe {
			// Only the probe: the resolver's list comes next. Calls wait
			// for it (gRPC has no picker of this policy's yet).
			return nil
		}
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	// Each address once: an endpoint that repeats an address of an
	// earlier one is left out, for the group and endpointsharding alike.
	kept := make(map[string]*endpoint, len(ccs.ResolverState.Endpoints))
	var (
		eps      []resolver.Endpoint
		members  []member
		backends []group.Backend
	)
	for _, e := range ccs.ResolverState.Endpoints {
		if len(e.Addresses) == 0 || slices.ContainsFunc(e.Addresses, func(a resolver.Address) bool { return kept[a.Addr] != nil }) {
			continue
		}
		addr := e.Addresses[0].Addr
		ep := b.eps[addr]
		if ep == nil {
			ep = &endpoint{addr: addr, conn: connectivity.Idle}
		}
		for _, a := range e.Addresses {
			kept[a.Addr] = ep
		}
		mb := member{ep: ep, id: addr}
		be := group.Backend{ID: addr, Addr: addr}
		if info, ok := GetEndpointInfo(e); ok {
			if info.ID != "" {
				mb.id, be.ID = info.ID, info.ID
			}
			be.Zone = info.Zone
			be.Weight = group.Weight(info.Weight)
		}
		eps, members, backends = append(eps, e), append(members, mb), append(backends, be)
	}

	if err := b.useGroup(cfg, src, backends); err != nil {
		return b.failLocked(err)
	}
	ids := make(map[string]bool, len(members))
	for _, mb := range members {
		ids[mb.id] = true
	}
	for addr, ep := range b.eps {
		if kept[addr] == nil {
			ep.dropConn()
			if !ids[ep.id] {
				b.view.Forget(ep.id)
			}
		}
	}
	b.eps = kept
	ready := make([]group.Readiness, len(members))
	for i, mb := range members {
		ep := mb.ep
		ep.id = mb.id
		ep.updateOOB(b.g, b.cfg)
		b.view.Attach(ep.id, ep)
		ready[i] = ep.readiness()
		if b.own {
			_ = adapterhook.SetReady(b.g, ready[i].ID, ready[i].Ready, ready[i].Reason) // cannot fail: a member of an open group
		}
	}
	b.view.Report(ready...)
	b.mu.Unlock()

	// Endpoints, not Addresses; pick_first children with health listeners,
	// as gRPC's own weighted_round_robin and least_request do. The child
	// updates its state inline.
	rs := ccs.ResolverState
	rs.Endpoints = eps
	err := b.child.UpdateClientConnState(gbalancer.ClientConnState{ResolverState: pickfirst.EnableHealthListener(rs)})
	b.publish()
	return err
}

// failLocked puts the channel in TRANSIENT_FAILURE with err, the reason a
// resolver update could not be used, and returns err for gRPC, which asks
// the resolver again. It unlocks b.mu.
func (b *elbBalancer) failLocked(err error) error {
	err = fmt.Errorf("elb: %w", err)
	b.ClientConn.UpdateState(gbalancer.State{ConnectivityState: connectivity.TransientFailure, Picker: errPicker{err}})
	b.mu.Unlock()
	return fmt.Errorf("%w: %w", gbalancer.ErrBadResolverState, err)
}

// errPicker fails calls (or holds wait-for-ready ones) with err.
type errPicker struct{ err error }

func (p errPicker) Pick(gbalancer.PickInfo) (gbalancer.PickResult, error) {
	return gbalancer.PickResult{}, p.err
}

// UpdateState receives endpointsharding's state: each child's
// connectivity and picker. It is called on gRPC's serializer and, for an
// idle child woken by a pick, on other goroutines: b.mu orders the calls,
// and is held while the group learns each endpoint's readiness so that
// those reach it in the same order.
func (b *elbBalancer) UpdateState(state gbalancer.State) {
	b.mu.Lock()
	b.childState = state
	var changed []group.Readiness
	for _, cs := range endpointsharding.ChildStatesFromPicker(state.Picker) {
		if len(cs.Endpoint.Addresses) == 0 {
			continue
		}
		ep := b.eps[cs.Endpoint.Addresses[0].Addr]
		if ep == nil {
			continue
		}
		p := cs.State.Picker
		ep.picker.Store(&p)
		why := ""
		if cs.State.ConnectivityState == connectivity.TransientFailure && p != nil {
			if _, err := p.Pick(gbalancer.PickInfo{Ctx: context.Background()}); err != nil {
				why = err.Error()
			}
		}
		if ep.conn != cs.State.ConnectivityState || ep.why != why {
			ep.conn, ep.why = cs.State.ConnectivityState, why
			if b.view != nil {
				r := ep.readiness()
				changed = append(changed, r)
				if b.own {
					_ = adapterhook.SetReady(b.g, r.ID, r.Ready, r.Reason)
				}
			}
		}
	}
	if len(changed) > 0 {
		b.view.Report(changed...)
	}
	b.mu.Unlock()
	b.publish()
}

// poke asks refresh for a new picker.
func (b *elbBalancer) poke() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// refresh publishes a new picker after group events, until Close.
func (b *elbBalancer) refresh() {
	for {
		select {
		case <-b.kick:
			b.publish()
		case <-b.stop:
			return
		}
	}
}

// publish gives the channel a picker for the group as it is now. With no
// endpoint connected it passes on endpointsharding's, which queues calls
// or fails them as gRPC's own policies do; otherwise the state is READY
// when the group can pick, CONNECTING (calls queue) while endpoints await
// their first health checks, and TRANSIENT_FAILURE (calls fail, or wait
// if wait-for-ready) when no connected endpoint can take a call.
func (b *elbBalancer) publish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || b.g == nil || b.childState.Picker == nil {
		return
	}
	connected := false
	for _, ep := range b.eps {
		connected = connected || ep.conn == connectivity.Ready
	}
	st := b.childState
	p := &picker{v: b.view, hashKey: b.cfg.HashKey, stickyKey: b.stickyKey(), failures: b.cfg.failures, queue: true}
	if len(b.eps) == 0 {
		// An empty group: calls fail (or wait, with WaitForReady) with
		// the group's own error, "no backends", not endpointsharding's.
		p.queue = false
		b.ClientConn.UpdateState(gbalancer.State{ConnectivityState: connectivity.TransientFailure, Picker: p})
		return
	}
	if !connected {
		b.ClientConn.UpdateState(st)
		return
	}
	state := connectivity.Ready
	if b.view.Available() == 0 {
		// Calls queue while a connected endpoint's member awaits its
		// first health checks, and fail fast otherwise.
		state, p.queue = connectivity.TransientFailure, false
		initial := make(map[string]bool)
		for _, bs := range b.g.Stats().Backends {
			if bs.State == health.Initial && bs.Unreachable == "" {
				initial[bs.ID] = true
			}
		}
		for _, ep := range b.eps {
			if ep.conn == connectivity.Ready && initial[ep.id] {
				state, p.queue = connectivity.Connecting, true
				break
			}
		}
	}
	b.ClientConn.UpdateState(gbalancer.State{ConnectivityState: state, Picker: p})
}

// NewSubConn creates the connections of the pick_first children, watching
// their state to run health checks over them.
func (b *elbBalancer) NewSubConn(addrs []resolver.Address, opts gbalancer.NewSubConnOptions) (gbalancer.SubConn, error) {
	var sc gbalancer.SubConn
	inner := opts.StateListener
	opts.StateListener = func(s gbalancer.SubConnState) {
		b.subConnState(sc, addrs, s)
		if inner != nil {
			inner(s)
		}
	}
	// The deprecation warns that a SubConn will take one address only: the
	// pick_first children pass one each, and gRPC has no other way for a
	// wrapping policy to see its children's SubConns (its own wrappers,
	// weightedroundrobin and outlierdetection, intercept this call too).
	//lint:ignore SA1019 one address per SubConn, as the deprecation asks
	sc, err := b.ClientConn.NewSubConn(addrs, opts)
	return sc, err
}

// subConnState keeps each endpoint's READY connection, the one its health
// checks use (whether they are on now or turned on by a later config).
func (b *elbBalancer) subConnState(sc gbalancer.SubConn, addrs []resolver.Address, s gbalancer.SubConnState) {
	if len(addrs) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	ep := b.eps[addrs[0].Addr]
	switch {
	case ep == nil:
	case s.ConnectivityState == connectivity.Ready:
		ep.dropConn()
		pr, closeFn := sc.GetOrBuildProducer(connProducerBuilder{})
		ep.sc, ep.hc, ep.closeHC = sc, pr.(*connProducer).cc, closeFn
		ep.updateOOB(b.g, b.cfg)
	case ep.sc == sc:
		ep.dropConn()
	}
}

// dropConn forgets the endpoint's connection. The caller holds
// elbBalancer.mu.
func (ep *endpoint) dropConn() {
	ep.stopOOB()
	if ep.closeHC != nil {
		ep.closeHC()
	}
	ep.sc, ep.hc, ep.closeHC = nil, nil, nil
}

// probe returns the health probe of cfg: a grpc.health.v1 Check over the
// endpoint's own READY connection, so it needs no credentials or dialer of
// its own. nil without health checks.
func (b *elbBalancer) probe(cfg *Config) health.Prober {
	if cfg.Health == nil {
		return nil
	}
	service := cfg.Health.Service
	return health.ProbeFunc(func(ctx context.Context, addr string) error {
		b.mu.Lock()
		var cc grpc.ClientConnInterface
		if ep := b.eps[addr]; ep != nil {
			cc = ep.hc
		}
		b.mu.Unlock()
		if cc == nil {
			return fmt.Errorf("%w: not connected", health.ErrSkipped)
		}
		resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		switch {
		case status.Code(err) == codes.Unimplemented:
			return fmt.Errorf("the server does not implement grpc.health.v1: %w", err)
		case err != nil:
			return err
		case resp.GetStatus() != healthpb.HealthCheckResponse_SERVING:
			return fmt.Errorf("%w: %v", health.ErrNotServing, resp.GetStatus())
		}
		return nil
	})
}

func (b *elbBalancer) ResolverError(err error) { b.child.ResolverError(err) }

func (b *elbBalancer) ExitIdle() { b.child.ExitIdle() }

func (b *elbBalancer) UpdateSubConnState(sc gbalancer.SubConn, s gbalancer.SubConnState) {
	logger.Errorf("elb: UpdateSubConnState(%v, %+v) called unexpectedly", sc, s)
}

func (b *elbBalancer) Close() {
	b.mu.Lock()
	b.closed = true
	b.leaveGroup()
	for _, ep := range b.eps {
		ep.dropConn()
	}
	close(b.stop)
	b.mu.Unlock()
	b.child.Close()
}

// connProducer gives the health checks a ClientConnInterface over one
// SubConn's transport: gRPC's producer mechanism, as its own health and
// ORCA clients use.
type connProducer struct{ cc grpc.ClientConnInterface }

type connProducerBuilder struct{}

func (connProducerBuilder) Build(cci any) (gbalancer.Producer, func()) {
	return &connProducer{cc: cci.(grpc.ClientConnInterface)}, func() {}
}
