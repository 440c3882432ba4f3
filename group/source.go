package group

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/go-elb/elb/internal/wait"
)

// Defaults of SyncConfig.
const (
	// DefaultMinBackoff is the first wait after a failed update when
	// SyncConfig.MinBackoff is 0.
	DefaultMinBackoff = time.Second
	// DefaultMaxBackoff is the longest wait after failed updates when
	// SyncConfig.MaxBackoff is 0.
	DefaultMaxBackoff = 30 * time.Second
)

// The errors of Sync, usable with [errors.Is]. Sync reports them to
// SyncConfig.OnError inside a [*GroupError] or [*BackendError] naming the
// group.
var (
	// ErrEmptyUpdate: an update that would leave the group with no
	// members, refused unless SyncConfig.AllowEmpty. A truncated file or
	// an empty answer must not wipe a group.
	ErrEmptyUpdate = errors.New("update would leave the group empty")
	// ErrInvalidUpdate: an Update that contradicts itself: a Full update
	// with Removed IDs, or a diff that both lists and removes an ID.
	ErrInvalidUpdate = errors.New("invalid update")
)

// SourceUpdate is one message from a Source.
type SourceUpdate struct {
	// Backends is, in a Full update, the whole membership; in a diff, the
	// backends added or changed (an ID the group holds is updated, or
	// replaced if its address changed; a new ID is added).
	Backends []Backend
	// Removed are, in a diff, the IDs of the backends that left. IDs the
	// group does not hold are ignored. Empty in a Full update.
	Removed []string
	// Full says Backends is the whole membership: members it does not
	// list are removed.
	Full bool
}

// Source is where a group's members come from: DNS, a file, a registry.
// A Source remembers what it has delivered, so each one feeds a single
// Sync.
type Source interface {
	// Next blocks until the source has news and returns it, or an error
	// (the source could not be read; the next call tries again at once:
	// backoff is Sync's job), or ctx's error once ctx is done.
	Next(ctx context.Context) (SourceUpdate, error)
}

// SyncConfig configures Sync. The zero value is valid: backoff from 1s to
// 30s, empty updates refused, errors ignored, the group's clock.
type SyncConfig struct {
	// MinBackoff is the wait after the first of a run of failed updates;
	// each further failure doubles it, up to MaxBackoff. 0 means
	// DefaultMinBackoff (1s); negative values are invalid.
	MinBackoff time.Duration
	// MaxBackoff caps the wait, at least MinBackoff. 0 means
	// DefaultMaxBackoff (30s); negative values are invalid.
	MaxBackoff time.Duration
	// AllowEmpty lets an update empty the group: a Full update with no
	// backends, or a diff that removes the last member. false refuses
	// such updates with an error wrapping ErrEmptyUpdate.
	AllowEmpty bool
	// OnError, if set, is called with every error of the source and every
	// update the group refuses, on Sync's goroutine, before Sync backs
	// off. nil means the errors are not reported (the group keeps its
	// last good membership either way).
	OnError func(error)
	// OnApplied, if set, is called after each update the group has
	// applied, on Sync's goroutine, before Sync calls Next again: its
	// first call says the source's first membership is in the group
	// (whose members may still await their first health checks: see
	// Group.WaitReady). nil means none.
	OnApplied func()
	// Clock times the backoff. nil means the group's Config.Clock.
	Clock Clock
}

// Sync starts keeping g's membership in step with src, on a goroutine of
// its own, and returns at once: nil, or an error wrapping ErrInvalidConfig
// for a bad cfg, a nil g or a nil src (then nothing starts). It follows src
// until ctx is done or g is closed (Close cancels a Next under way), calling
// src.Next in a loop and applying each update:
//
//   - A Full update goes through Set: new IDs are added, members that stay
//     keep their health state and counters (only weight, zone and metadata
//     change), members not listed drain, a member whose address changed
//     is replaced.
//   - A diff is merged into the current membership and applied as one Set,
//     so picks see all of it or none of it, and a diff the group refuses
//     changes nothing. Sync reads the membership and then sets it, so a
//     group fed by Sync should have no other writer of membership: a
//     change made between the two may be undone.
//
// An error from src, or an update the group refuses (an invalid backend, a
// duplicate ID or address, an update that would empty the group, see
// SyncConfig.AllowEmpty), leaves the group's membership as it was, is
// passed to SyncConfig.OnError, and makes Sync wait before calling Next
// again: MinBackoff after the first failure in a row, doubling with each
// further one up to MaxBackoff, each wait randomized by ±20% (and kept
// within MinBackoff-MaxBackoff) so that many clients do not retry in step.
// A good update resets the backoff.
//
// From the moment Sync returns until its first update is applied, the
// group awaits its source: a Pick made right after Sync waits for that
// update (bounded by its ctx; see Group.Pick) instead of failing with
// ErrNoBackends, and its error, if ctx ends first, says the group is
// waiting for the source, naming the source's last error if Next or the
// update failed. SyncConfig.OnApplied reports each applied update. Once
// Sync stops (ctx done, g closed), the group no longer awaits it.
//
// Neither Close nor the end of ctx waits for Sync's goroutine, so that
// OnError and OnApplied may call them: a call of OnError or OnApplied
// under way, or about to start, when Close returns or ctx ends still
// runs, once (there is none after that), and the goroutine ends as soon
// as src.Next returns, which it does when ctx ends (the Source contract)
// or Close cancels it.
func Sync(ctx context.Context, g *Group, src Source, cfg SyncConfig) error {
	if err := startSync(g, src, &cfg); err != nil {
		return err
	}
	go follow(ctx, g, src, cfg)
	return nil
}

// startSync validates Sync's arguments and marks g awaiting its source.
func startSync(g *Group, src Source, cfg *SyncConfig) error {
	if g == nil || src == nil {
		return &GroupError{Err: ErrInvalidConfig, Problem: "Sync needs a group and a source"}
	}
	if !g.made() {
		return errNotNew
	}
	if err := cfg.normalize(g); err != nil {
		return err
	}
	g.sourcePending(+1, "")
	return nil
}

// follow is Sync's loop, on its goroutine: it returns ctx.Err() when ctx is
// done, or an error wrapping ErrClosed as soon as g closes. startSync has
// marked g awaiting src.
func follow(ctx context.Context, g *Group, src Source, cfg SyncConfig) error {
	pending := true // the first update is not applied yet
	defer func() {
		if pending {
			g.sourcePending(-1, "")
		}
	}()
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // Close ends a Next or a backoff under way
		select {
		case <-g.closing:
			cancel()
		case <-ctx.Done():
		}
	}()

	failures := 0
	for {
		if g.isClosed() {
			return g.errClosed
		}
		u, err := src.Next(ctx)
		if g.isClosed() {
			return g.errClosed
		}
		if err := parent.Err(); err != nil {
			return err
		}
		if err == nil {
			err = g.applyUpdate(u, cfg.AllowEmpty)
			if err != nil && g.isClosed() {
				return g.errClosed
			}
		}
		if err == nil {
			failures = 0
			if pending {
				pending = false
				g.sourcePending(-1, "")
			}
			if cfg.OnApplied != nil {
				cfg.OnApplied()
			}
			continue
		}
		if pending {
			g.sourcePending(0, err.Error())
		}
		if cfg.OnError != nil {
			cfg.OnError(err)
		}
		failures++
		if err := wait.Sleep(ctx, cfg.Clock, cfg.backoff(failures)); err != nil {
			if g.isClosed() {
				return g.errClosed
			}
			return parent.Err()
		}
	}
}

// normalize sets cfg's defaults and validates it.
func (cfg *SyncConfig) normalize(g *Group) error {
	switch {
	case cfg.MinBackoff < 0:
		return fieldError(g.cfg.Name, "SyncConfig.MinBackoff", cfg.MinBackoff, "must not be negative")
	case cfg.MaxBackoff < 0:
		return fieldError(g.cfg.Name, "SyncConfig.MaxBackoff", cfg.MaxBackoff, "must not be negative")
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.MinBackoff > cfg.MaxBackoff {
		return fieldError(g.cfg.Name, "SyncConfig.MinBackoff", cfg.MinBackoff, fmt.Sprintf("must be at most MaxBackoff (%v)", cfg.MaxBackoff))
	}
	if cfg.Clock == nil {
		cfg.Clock = g.cfg.Clock
	}
	return nil
}

// backoff returns the wait after the n-th failure in a row (n >= 1):
// MinBackoff doubled n-1 times, capped at MaxBackoff, randomized by ±20%
// and kept within MinBackoff-MaxBackoff.
func (cfg *SyncConfig) backoff(n int) time.Duration {
	d := cfg.MinBackoff
	for i := 1; i < n && d < cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, cfg.MaxBackoff)
	d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	return max(cfg.MinBackoff, min(d, cfg.MaxBackoff))
}

// isClosed reports whether Close has been called.
func (g *Group) isClosed() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closed
}

// applyUpdate applies u to g with Set, as Sync documents.
func (g *Group) applyUpdate(u SourceUpdate, allowEmpty bool) error {
	if u.Full {
		if len(u.Removed) > 0 {
			return &GroupError{Group: g.cfg.Name, Err: ErrInvalidUpdate,
				Problem: fmt.Sprintf("a full update removes %d IDs; it lists the whole membership", len(u.Removed))}
		}
		if len(u.Backends) == 0 && !allowEmpty {
			return &GroupError{Group: g.cfg.Name, Err: ErrEmptyUpdate,
				Problem: "a full update with no backends (SyncConfig.AllowEmpty allows it)"}
		}
		return g.Set(u.Backends)
	}
	if len(u.Backends) == 0 && len(u.Removed) == 0 {
		return nil
	}
	gone := make(map[string]bool, len(u.Removed))
	for _, id := range u.Removed {
		gone[id] = true
	}
	upserted := make(map[string]bool, len(u.Backends))
	for _, b := range u.Backends {
		id := b.ID
		if id == "" {
			id = b.Addr
		}
		if gone[id] {
			return &BackendError{Group: g.cfg.Name, ID: id, Err: ErrInvalidUpdate,
				Problem: "the update both lists and removes it"}
		}
		upserted[id] = true
	}
	current := g.Backends()
	next := make([]Backend, 0, len(current)+len(u.Backends))
	for _, b := range current {
		if !gone[b.ID] && !upserted[b.ID] {
			next = append(next, b)
		}
	}
	next = append(next, u.Backends...)
	if len(next) == 0 && len(current) > 0 && !allowEmpty {
		return &GroupError{Group: g.cfg.Name, Err: ErrEmptyUpdate,
			Problem: fmt.Sprintf("the update removes all %d members (SyncConfig.AllowEmpty allows it)", len(current))}
	}
	return g.Set(next)
}
