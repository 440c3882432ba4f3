package grpcgroup

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"

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
)

// Name is the name of the LB policy, for a service config's
// loadBalancingConfig: {"loadBalancingConfig": [{"elb": {...}}]}.
const Name = "elb"

var logger = grpclog.Component("elb")

// Channels holds the group of every channel using the "elb" policy, under
// the name "TARGET#N": TARGET is the group's name for an elb:/// target
// and the target's endpoint otherwise ("orders:8080" for
// dns:///orders:8080), N numbers the channels' groups from 1. Its Stats
// show where each channel's calls went; a group leaves when its channel
// closes (or its policy's config changes, which builds a new group).
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
// members of a group of its own, which decides where each call goes:
// endpointsharding keeps a pick_first child per endpoint, whose
// connectivity the group learns through SetReady, and whose picker a pick
// reaches through the member's attachment.
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
	src        groupInfo    // the group behind an elb:/// target, or {name, ""}
	g          *group.Group // nil until the first resolver update
	unsub      func()
	eps        map[string]*endpoint // by each of their addresses
	childState gbalancer.State      // endpointsharding's last state
	closed     bool

	kick chan struct{} // a group event: build a new picker
	stop chan struct{}
}

// endpoint is one endpoint of the channel and member of its group.
type endpoint struct {
	id      string
	info    EndpointInfo
	hasInfo bool
	picker  atomic.Pointer[gbalancer.Picker] // its pick_first child's
	conn    connectivity.State               // the child's state; guarded by elbBalancer.mu, as is the rest
	why     string                           // why it is not READY

	sc      gbalancer.SubConn // the connection it uses, while READY (health checks)
	hc      grpc.ClientConnInterface
	closeHC func()
}

// ready reports whether calls may go to the endpoint: connected, and
// serving in the group behind an elb:/// target. It returns the reason
// when not. The caller holds elbBalancer.mu.
func (ep *endpoint) ready() (bool, string) {
	switch {
	case ep.hasInfo && ep.info.Pending:
		return false, "awaiting its group's first health check"
	case ep.hasInfo && !ep.info.Serving:
		return false, "not serving in its group"
	case ep.conn != connectivity.Ready:
		if ep.why != "" {
			return false, "connection " + ep.conn.String() + ": " + ep.why
		}
		return false, "connection " + ep.conn.String()
	}
	return true, "connected"
}

// member is what a resolver update says of one endpoint.
type member struct {
	ep      *endpoint
	id      string
	info    EndpointInfo
	hasInfo bool
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
			ep = &endpoint{conn: connectivity.Idle}
		}
		for _, a := range e.Addresses {
			kept[a.Addr] = ep
		}
		mb := member{ep: ep, id: addr}
		mb.info, mb.hasInfo = GetEndpointInfo(e)
		be := group.Backend{ID: addr, Addr: addr}
		if mb.hasInfo {
			if mb.info.ID != "" {
				mb.id, be.ID = mb.info.ID, mb.info.ID
			}
			be.Zone = mb.info.Zone
			be.Weight = group.Weight(mb.info.Weight)
		}
		eps, members, backends = append(eps, e), append(members, mb), append(backends, be)
	}

	g, fresh := b.g, b.g == nil || !reflect.DeepEqual(cfg, b.cfg) || src != b.src
	if fresh {
		gc := cfg.groupConfig(fmt.Sprintf("%s#%d", src.Name, channelSeq.Add(1)), src.Algorithm, b.probe(cfg))
		gc.Registry = &Channels
		var err error
		if g, err = group.New(gc); err != nil {
			return b.failLocked(err)
		}
	}
	if err := g.Set(backends); err != nil {
		if fresh {
			go g.Close(context.Background())
		}
		return b.failLocked(err)
	}
	if fresh {
		if b.g != nil {
			b.unsub()
			go b.g.Close(context.Background()) // drains the calls in flight
		}
		b.g, b.cfg, b.src = g, cfg, src
		b.unsub = g.Subscribe(func(group.Event) { b.poke() })
	}
	for addr, ep := range b.eps {
		if kept[addr] == nil {
			ep.dropConn()
		}
	}
	b.eps = kept
	for _, mb := range members {
		ep := mb.ep
		ep.id, ep.info, ep.hasInfo = mb.id, mb.info, mb.hasInfo
		_ = g.Attach(ep.id, ep) // cannot fail: ep.id is a member of an open group
		ok, why := ep.ready()
		_ = g.SetReady(ep.id, ok, why)
	}
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
			if b.g != nil {
				ok, reason := ep.ready()
				_ = b.g.SetReady(ep.id, ok, reason)
			}
		}
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
	if !connected {
		b.ClientConn.UpdateState(b.childState)
		return
	}
	p := &picker{g: b.g, hashKey: b.cfg.HashKey, failures: b.cfg.failures, queue: true}
	if b.cfg.Sticky != nil {
		p.stickyKey = b.cfg.Sticky.MetadataKey
	}
	state := connectivity.Ready
	if b.g.Available() == 0 {
		st := b.g.Stats()
		state, p.queue = connectivity.TransientFailure, false
		pending := slices.ContainsFunc(st.Backends, func(bs group.BackendStats) bool {
			return bs.State == health.Initial && bs.Unreachable == "" // its first checks are under way
		})
		for _, ep := range b.eps {
			pending = pending || ep.conn == connectivity.Ready && ep.hasInfo && ep.info.Pending
		}
		if pending {
			state, p.queue = connectivity.Connecting, true
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
	case ep.sc == sc:
		ep.dropConn()
	}
}

// dropConn forgets the endpoint's connection. The caller holds
// elbBalancer.mu.
func (ep *endpoint) dropConn() {
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
	g := b.g
	if g != nil {
		b.unsub()
	}
	for _, ep := range b.eps {
		ep.dropConn()
	}
	close(b.stop)
	b.mu.Unlock()
	b.child.Close()
	if g != nil {
		go g.Close(context.Background()) // drains the calls in flight
	}
}

// connProducer gives the health checks a ClientConnInterface over one
// SubConn's transport: gRPC's producer mechanism, as its own health and
// ORCA clients use.
type connProducer struct{ cc grpc.ClientConnInterface }

type connProducerBuilder struct{}

func (connProducerBuilder) Build(cci any) (gbalancer.Producer, func()) {
	return &connProducer{cc: cci.(grpc.ClientConnInterface)}, func() {}
}
