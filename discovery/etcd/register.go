package etcd

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/naming/endpoints"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/internal/cfgerr"
	"github.com/go-elb/elb/internal/hostport"
)

// Lease TTLs of RegisterConfig.
const (
	// DefaultTTL is RegisterConfig.TTL when it is 0.
	DefaultTTL = 10 * time.Second
	// MinTTL is the shortest TTL: etcd grants no lease shorter than 1.5
	// election timeouts (1.5s with its default 1s), in whole seconds.
	MinTTL = 2 * time.Second
	// MaxTTL is the longest TTL.
	MaxTTL = time.Hour
)

// maxRetryWait caps the wait between two attempts to register again
// after the lease was lost.
const maxRetryWait = 30 * time.Second

// ErrLeaseLost is the error, usable with [errors.Is], that a
// Registration reports to RegisterConfig.OnError when its lease's
// keep-alive ends (etcd was unreachable for the lease's TTL, or the lease
// expired or was revoked): the registration is granted a new lease and
// written again.
var ErrLeaseLost = errors.New("lease lost")

// RegisterConfig configures Register. The zero value is valid: a 10s
// lease, errors logged.
type RegisterConfig struct {
	// TTL is the lease's time to live, a whole number of seconds from
	// MinTTL (2s) to MaxTTL (1h): a process that dies leaves every
	// client's group about TTL later, when etcd expires its lease. 0
	// means DefaultTTL (10s).
	TTL time.Duration

	// OnError, if set, is called with each loss of the lease (an error
	// wrapping ErrLeaseLost) and each failed attempt to register again,
	// on the registration's goroutine. nil means they are logged with
	// slog.Default at level Warn.
	OnError func(error)
}

// Registration is a backend published in etcd under a lease that it keeps
// alive. Create one with Register; end it with Close.
type Registration struct {
	client *clientv3.Client
	mgr    endpoints.Manager
	key    string
	ep     endpoints.Endpoint
	ttl    int64 // seconds
	report func(error)

	ctx  context.Context // the keep-alives' context, ended by Close
	stop context.CancelFunc
	done chan struct{} // closed when keep ends

	mu    sync.Mutex // guards lease
	lease clientv3.LeaseID
}

// Register publishes b under prefix in etcd, as the key prefix + "/" +
// b.ID (b.Addr if the ID is empty), in the format of etcd's
// endpoints.Manager (see Source), attached to a lease of cfg.TTL that it
// keeps alive: Source finds it, and so does any reader of etcd's naming
// package. b.Weight and b.Zone are written as the metadata members
// "weight" and "zone", b.Metadata as string members beside them.
//
// Register returns once the backend is written, or the error of granting
// the lease or writing the key (ctx bounds both), or an *elb.ConfigError
// (wrapping elb.ErrInvalidConfig) for a nil client, an empty prefix or
// one ending in "/", an invalid backend (its address, a weight outside
// 0-100, a Metadata key "weight" or "zone") or a TTL out of range.
//
// If the process dies, etcd deletes the key when the lease expires, about
// TTL later, and every Source removes the backend. If the keep-alive
// ends while the process lives (etcd unreachable for TTL, the lease
// expired anyway), the registration reports ErrLeaseLost to
// cfg.OnError and grants a new lease and writes the key again, retrying
// with a randomized wait that starts at TTL/10 and doubles up to TTL/2
// (at most 30s), until it succeeds or Close is called.
//
// To take the backend out of service, drain first: call Close, which
// deletes the key at once, so that the clients' groups remove the backend
// and drain it (send it no new requests, let those in flight finish);
// then keep serving for the clients' drain (group.Config.DrainTimeout)
// before the server stops (http.Server.Shutdown).
func Register(ctx context.Context, client *clientv3.Client, prefix string, b group.Backend, cfg RegisterConfig) (*Registration, error) {
	if b.ID == "" {
		b.ID = b.Addr
	}
	switch {
	case client == nil:
		return nil, cfgerr.New("client", nil, "is nil: want an etcd client (clientv3.New)")
	case prefix == "":
		return nil, cfgerr.New("prefix", nil, `is empty: want the key prefix the clients' Source watches (such as "services/orders")`)
	case strings.HasSuffix(prefix, "/"):
		return nil, cfgerr.New("prefix", prefix, `must not end in "/": the key is prefix + "/" + ID`)
	case b.Addr == "":
		return nil, cfgerr.New("Backend.Addr", nil, "is required")
	case hostport.Check(b.Addr, false) != "":
		return nil, cfgerr.New("Backend.Addr", b.Addr, strings.TrimPrefix(hostport.Check(b.Addr, false), strconv.Quote(b.Addr)+" "))
	case b.Weight != nil && (*b.Weight < 0 || *b.Weight > group.MaxWeight):
		return nil, cfgerr.New("Backend.Weight", *b.Weight, fmt.Sprintf("must be 0-%d", group.MaxWeight))
	case cfg.TTL == 0:
		cfg.TTL = DefaultTTL
	case cfg.TTL < MinTTL || cfg.TTL > MaxTTL || cfg.TTL%time.Second != 0:
		return nil, cfgerr.New("TTL", cfg.TTL, "must be a whole number of seconds, 2s-1h")
	}
	for _, k := range []string{MetadataWeight, MetadataZone} {
		if _, ok := b.Metadata[k]; ok {
			return nil, cfgerr.New("Backend.Metadata."+k, b.Metadata[k], "is reserved: set Backend.Weight and Backend.Zone")
		}
	}
	mgr, err := endpoints.NewManager(client, prefix)
	if err != nil {
		return nil, err
	}
	r := &Registration{client: client, mgr: mgr, key: prefix + "/" + b.ID, ep: endpoint(b),
		ttl: int64(cfg.TTL / time.Second), report: cfg.OnError, done: make(chan struct{})}
	if r.report == nil {
		r.report = logError
	}
	r.ctx, r.stop = context.WithCancel(context.Background())
	alive, err := r.publish(ctx)
	if err != nil {
		r.stop()
		return nil, fmt.Errorf("elb: discovery/etcd: register %s: %w", r.key, err)
	}
	go r.keep(alive)
	return r, nil
}

// Key returns the etcd key the backend is published under.
func (r *Registration) Key() string { return r.key }

// publish grants a lease, writes the key under it and starts its
// keep-alive, which ends with the lease.
func (r *Registration) publish(ctx context.Context) (<-chan *clientv3.LeaseKeepAliveResponse, error) {
	lease, err := r.client.Grant(ctx, r.ttl)
	if err != nil {
		return nil, fmt.Errorf("grant a %ds lease: %w", r.ttl, err)
	}
	if err := r.mgr.AddEndpoint(ctx, r.key, r.ep, clientv3.WithLease(lease.ID)); err != nil {
		return nil, fmt.Errorf("put: %w", err)
	}
	r.mu.Lock()
	r.lease = lease.ID
	r.mu.Unlock()
	// The keep-alive lives until Close, not ctx: ctx bounds this call.
	return r.client.KeepAlive(r.ctx, lease.ID)
}

// keep drains the keep-alive's answers, and when the keep-alive ends,
// reports ErrLeaseLost and publishes again, as Register documents, until
// Close.
func (r *Registration) keep(alive <-chan *clientv3.LeaseKeepAliveResponse) {
	defer close(r.done)
	ctx := r.ctx
	ttl := time.Duration(r.ttl) * time.Second
	for {
		for alive != nil {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-alive:
				if !ok {
					alive = nil
				}
			}
			if ctx.Err() != nil { // Close ended the keep-alive
				return
			}
		}
		r.mu.Lock()
		lease := r.lease
		r.mu.Unlock()
		r.report(fmt.Errorf("elb: discovery/etcd: registration %s: keep-alive of lease %x ended: %w; registering again", r.key, lease, ErrLeaseLost))
		wait := ttl / 10
		for alive == nil {
			d := time.Duration(float64(wait) * (0.8 + 0.4*rand.Float64()))
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
			var err error
			actx, cancel := context.WithTimeout(ctx, ttl/2)
			alive, err = r.publish(actx)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				r.report(fmt.Errorf("elb: discovery/etcd: registration %s: register again: %w", r.key, err))
				alive = nil
				wait = min(2*wait, ttl/2, maxRetryWait)
			}
		}
	}
}

// Close deletes the key at once, stops the keep-alive and revokes the
// lease. It returns the error of the deletion (ctx bounds it and the
// revocation, whose failure is no error: the lease holds no key); the key is gone all the same when the lease expires, TTL
// later, as the keep-alive has stopped. Drain first: see Register. Close
// may be called more than once; later calls do the deletion again.
func (r *Registration) Close(ctx context.Context) error {
	r.stop()
	<-r.done
	r.mu.Lock()
	lease := r.lease
	r.mu.Unlock()
	if err := r.mgr.DeleteEndpoint(ctx, r.key); err != nil {
		return fmt.Errorf("elb: discovery/etcd: deregister %s: %w", r.key, err)
	}
	_, _ = r.client.Revoke(ctx, lease)
	return nil
}
