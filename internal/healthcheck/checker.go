package healthcheck

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/go-elb/elb/health"
	"github.com/go-elb/elb/internal/cfgerr"
	"golang.org/x/sync/errgroup"
)

// Causes of a probe's context being cancelled other than its timeout.
var (
	errRemoved = errors.New("health target removed")
	errClosed  = errors.New("health checker closed")
)

// Target is one backend to probe.
type Target struct {
	ID   string // identifies the target to Remove and CheckNow
	Addr string // passed to the Prober
}

// Result is the outcome of one probe.
type Result struct {
	Target

	// Err is nil if the probe passed. A probe that outlived Config.Timeout
	// fails with an error wrapping ErrProbeTimeout, even if the Prober
	// returned nil after it; one whose Prober panicked fails with an error
	// wrapping ErrProbePanic.
	Err error

	Start    time.Time     // clock time the probe started
	Duration time.Duration // clock time it took
}

// Checker runs the active probes of a changing set of targets and reports
// each result.
//
// A new target is probed at once. Each later probe is scheduled when the
// previous one ends, just before its result is reported: while the target
// is not yet judged (fewer than Config.HealthyThreshold passes in a row and
// fewer than Config.UnhealthyThreshold failures in a row since it was
// added; a probe that wraps ErrSkipped counts neither way),
// Config.InitialInterval later; after that, Config.Interval plus a random
// time in [0, Config.Jitter) later. A target is never probed twice at
// once, nor while its last result is being reported.
//
// At most Config.Concurrency probes run at once; due probes beyond that wait
// their turn, first due first served. Probes run on worker goroutines,
// started when a probe is due and fewer than Concurrency workers exist; a
// worker exits as soon as no probe waits, so an idle Checker has no
// goroutines of its own. All waiting is done with the Clock's AfterFunc:
// one timer for the earliest scheduled probe, however many targets there
// are, and one for the timeout of each running probe.
//
// The report function is called on a worker goroutine, once per probe,
// with no lock of the Checker held. Calls for different IDs may run
// concurrently; calls for one ID never do, even across Remove and Add of
// it: a report that has begun when its target is removed or replaced
// delivers the old target's result, and the new target's first report
// waits for it to return. (The new target's probe may run meanwhile, as
// may the old one's cancelled probe.) Add, Remove and CheckNow never wait
// for a probe or a report, so report may call them, and they may be called
// with a lock held that report takes. report must not call Close.
//
// A Checker is safe for concurrent use.
type Checker struct {
	cfg    health.Config
	clk    health.Clock
	report func(Result)
	ctx    context.Context         // parent of every probe's context
	cancel context.CancelCauseFunc // cancels ctx, at Close
	wg     errgroup.Group          // the workers, waited for by Close; no limit: see workers

	mu       sync.Mutex
	targets  map[string]*target // nil once closed
	sched    schedule           // scheduled targets, earliest first
	seq      uint64             // of the last target scheduled
	timer    health.Timer       // fires at or before sched's first due time; nil if unset
	timerAt  time.Time          // when timer fires
	timerSeq uint64             // bumped when timer is set or stopped
	queue    []*target          // due targets, first due first; may hold removed ones
	workers  int                // at most cfg.Concurrency
	closed   bool
	leaving  map[string]*target // by ID: removed or replaced while its report runs
}

// target is the Checker's state of one Target, guarded by Checker.mu. A
// target is scheduled (in Checker.sched), queued (in Checker.queue) or
// running (being probed or reported), and only while its report runs both
// running and scheduled. Once removed from Checker.targets it is never used
// again.
type target struct {
	Target
	due     time.Time               // while scheduled: when the next probe is due
	seq     uint64                  // while scheduled: orders equal due times
	index   int                     // index in Checker.sched; -1 if not scheduled
	queued  bool                    // in Checker.queue
	running bool                    // being probed or reported
	overdue bool                    // came due while running: queue it when done
	cancel  context.CancelCauseFunc // the running probe's context
	report  bool                    // its report runs
	ended   chan struct{}           // if set: closed when that report returns
	judged  bool                    // its first run of passes or failures is complete
	passes  int                     // until judged: passes in a row
	fails   int                     // until judged: failures in a row
}

// NewChecker returns a Checker that probes with cfg.Probe, following the
// rest of cfg, and calls report with every result. cfg is validated with
// Normalized, and cfg.Probe must not be nil. clk nil means RealClock. The
// Checker has no targets until Add.
func NewChecker(cfg health.Config, clk health.Clock, report func(Result)) (*Checker, error) {
	cfg, err := cfg.Normalized()
	if err != nil {
		return nil, err
	}
	if f, ok := cfg.Probe.(health.ProbeFunc); cfg.Probe == nil || ok && f == nil {
		return nil, cfgerr.New("Probe", nil, "is required")
	}
	if report == nil {
		return nil, cfgerr.New("report", nil, "is required")
	}
	if clk == nil {
		clk = health.RealClock{}
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	return &Checker{
		cfg:     cfg,
		clk:     clk,
		report:  report,
		ctx:     ctx,
		cancel:  cancel,
		targets: make(map[string]*target),
	}, nil
}

// Add starts probing t. Adding an ID again with the same Addr does nothing;
// with another Addr it replaces the target, as Remove then Add would, so
// the old Addr's cancelled probe may end while the new one's first runs.
// After Close, Add does nothing.
func (c *Checker) Add(t Target) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if old := c.targets[t.ID]; old != nil {
		if old.Addr == t.Addr {
			return
		}
		c.dropLocked(old)
	}
	nt := &target{Target: t, index: -1}
	c.targets[t.ID] = nt
	c.enqueueLocked(nt) // at once: see InitialInterval
}

// Remove stops probing the target with the given ID; an unknown ID is
// ignored. A probe of it in flight has its context cancelled, and its result
// is not reported unless the report has already begun: such a report may
// still be running, or about to run, when Remove returns, so report should
// ignore results for targets it has removed.
func (c *Checker) Remove(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := c.targets[id]; t != nil {
		c.dropLocked(t)
	}
}

// CheckNow probes the target with the given ID as soon as a worker is free,
// ahead of its schedule, which then continues from that probe. If a probe
// of it is running, which began before the call, another follows at once.
// It does nothing if the ID is unknown or its probe is already due.
func (c *Checker) CheckNow(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.targets[id]
	if t == nil || t.queued {
		return
	}
	if t.running { // a probe that began earlier: another follows it
		t.overdue = true
		return
	}
	c.unscheduleLocked(t)
	c.enqueueLocked(t)
}

// Len returns the number of targets: 0 after Close.
func (c *Checker) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.targets)
}

// Close stops the Checker: it forgets its targets, starts no more probes
// and cancels the contexts of running ones, whose results are not reported.
// It returns once every worker has exited, so no report call is running and
// report is never called again. (A timer of the Clock that fired just
// before may still run its function, which finds the Checker closed.)
// Calling Close again only waits likewise. Close must not be called from
// report, which it would wait for.
func (c *Checker) Close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		c.stopTimerLocked()
		c.targets, c.sched, c.queue = nil, nil, nil
	}
	c.mu.Unlock()
	c.cancel(errClosed)
	c.wg.Wait() // no Go after closed is set, so none races with this Wait
}

// jitter returns a random duration in [0, cfg.Jitter), or 0 with NoJitter.
func (c *Checker) jitter() time.Duration {
	if c.cfg.Jitter <= 0 {
		return 0
	}
	return rand.N(c.cfg.Jitter)
}

// waitAfterLocked counts a probe of t that failed with err (nil: passed)
// towards its first judgment and returns the wait before its next probe:
// Config.InitialInterval until it is judged, Config.Interval plus jitter
// after.
func (c *Checker) waitAfterLocked(t *target, err error) time.Duration {
	if !t.judged {
		switch {
		case errors.Is(err, health.ErrSkipped): // says nothing
		case err == nil:
			t.passes, t.fails = t.passes+1, 0
		default:
			t.passes, t.fails = 0, t.fails+1
		}
		t.judged = t.passes >= c.cfg.HealthyThreshold || t.fails >= c.cfg.UnhealthyThreshold
		if !t.judged {
			return c.cfg.InitialInterval
		}
	}
	return c.cfg.Interval + c.jitter()
}

// dropLocked forgets t and cancels its probe, if running. If its report
// runs, the next target of its ID reports only once that one returns.
func (c *Checker) dropLocked(t *target) {
	delete(c.targets, t.ID)
	c.unscheduleLocked(t)
	if t.cancel != nil {
		t.cancel(errRemoved)
	}
	if t.report {
		if c.leaving == nil {
			c.leaving = make(map[string]*target)
		}
		c.leaving[t.ID] = t
	}
}

// awaitLocked waits, unlocking c.mu meanwhile, for the report of a
// removed target of t's ID, if one runs, and reports whether t is still
// current after it.
func (c *Checker) awaitLocked(t *target) bool {
	for {
		old := c.leaving[t.ID]
		if old == nil {
			return c.targets[t.ID] == t
		}
		if old.ended == nil {
			old.ended = make(chan struct{})
		}
		ended := old.ended
		c.mu.Unlock()
		<-ended
		c.mu.Lock()
	}
}

// scheduleLocked schedules t's next probe d from now.
func (c *Checker) scheduleLocked(t *target, d time.Duration) {
	c.unscheduleLocked(t)
	c.seq++
	t.due, t.seq = c.clk.Now().Add(d), c.seq
	heap.Push(&c.sched, t)
	c.armLocked()
}

// unscheduleLocked cancels t's scheduled probe, if any. The timer is left
// as it is: firing early only finds nothing due.
func (c *Checker) unscheduleLocked(t *target) {
	if t.index >= 0 {
		heap.Remove(&c.sched, t.index)
	}
}

// armLocked makes sure the timer fires by the first due time, if any.
func (c *Checker) armLocked() {
	if len(c.sched) == 0 {
		return
	}
	at := c.sched[0].due
	if c.timer != nil && !c.timerAt.After(at) {
		return
	}
	c.stopTimerLocked()
	c.timerAt = at
	seq := c.timerSeq
	c.timer = c.clk.AfterFunc(at.Sub(c.clk.Now()), func() { c.fire(seq) })
}

// stopTimerLocked stops the timer, if set. If it has fired but its function
// has not yet taken c.mu, the function finds timerSeq changed and returns.
func (c *Checker) stopTimerLocked() {
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
		c.timerSeq++
	}
}

// fire is the function of the timer set when timerSeq was seq: it queues
// the probes due and sets the timer for the next.
func (c *Checker) fire(seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.timerSeq != seq {
		return
	}
	c.timer = nil
	c.timerSeq++
	now := c.clk.Now()
	for len(c.sched) > 0 && !c.sched[0].due.After(now) {
		c.enqueueLocked(heap.Pop(&c.sched).(*target))
	}
	c.armLocked()
}

// enqueueLocked queues t's probe and starts a worker if fewer than
// cfg.Concurrency exist. Every counted worker is busy or about to take
// from the queue, so the new probe runs at once if under the bound.
func (c *Checker) enqueueLocked(t *target) {
	if t.running {
		t.overdue = true // its report runs; the worker queues it after
		return
	}
	if t.queued {
		return
	}
	t.queued = true
	c.queue = append(c.queue, t)
	if c.workers < c.cfg.Concurrency {
		c.workers++
		c.wg.Go(c.work)
	}
}

// nextLocked takes the first current target off the queue, or returns nil
// if there is none or the Checker is closed.
func (c *Checker) nextLocked() *target {
	for !c.closed && len(c.queue) > 0 {
		t := c.queue[0]
		c.queue[0] = nil
		c.queue = c.queue[1:]
		if c.targets[t.ID] == t {
			t.queued = false
			return t
		}
	}
	return nil
}

// work is a worker: it probes and reports queued targets until the queue
// is empty.
func (c *Checker) work() error {
	c.mu.Lock()
	for {
		t := c.nextLocked()
		if t == nil {
			c.workers--
			c.mu.Unlock()
			return nil
		}
		ctx, cancel := context.WithCancelCause(c.ctx)
		t.running, t.cancel = true, cancel
		c.mu.Unlock()

		r := c.probe(ctx, cancel, t.Target)

		c.mu.Lock()
		t.cancel = nil
		if !c.awaitLocked(t) { // removed, replaced or closed: no report
			t.running = false
			continue
		}
		// The next probe is scheduled before the report, so that whoever
		// sees the report (a test moving a fake clock, say) sees it
		// scheduled. If it comes due while the report runs, it is queued
		// when the report returns.
		c.scheduleLocked(t, c.waitAfterLocked(t, r.Err))
		t.report = true
		c.mu.Unlock()
		c.report(r)
		c.mu.Lock()
		t.report = false
		if c.leaving[t.ID] == t {
			delete(c.leaving, t.ID)
		}
		if t.ended != nil {
			close(t.ended)
			t.ended = nil
		}
		t.running = false
		if t.overdue {
			t.overdue = false
			if c.targets[t.ID] == t {
				c.unscheduleLocked(t)
				c.enqueueLocked(t)
			}
		}
	}
}

// probe probes tg once with ctx, which ends with cause ErrProbeTimeout
// after cfg.Timeout (a deadline on the real clock, the clock's timer on
// another) and with nil when the probe returns.
func (c *Checker) probe(ctx context.Context, cancel context.CancelCauseFunc, tg Target) Result {
	defer cancel(nil)
	r := Result{Target: tg, Start: c.clk.Now()}
	if _, real := c.clk.(health.RealClock); real {
		// On the real clock, a deadline: the probe can tell the backend
		// (gRPC's grpc-timeout) and the dialer sees it coming.
		var stop context.CancelFunc
		ctx, stop = context.WithDeadlineCause(ctx, r.Start.Add(c.cfg.Timeout), health.ErrProbeTimeout)
		defer stop()
	} else {
		timer := c.clk.AfterFunc(c.cfg.Timeout, func() { cancel(health.ErrProbeTimeout) })
		defer timer.Stop()
	}
	panicked, err := c.call(ctx, tg.Addr)
	r.Duration = c.clk.Now().Sub(r.Start)
	timedOut := errors.Is(context.Cause(ctx), health.ErrProbeTimeout) || r.Duration >= c.cfg.Timeout
	switch {
	case panicked || !timedOut:
	case err == nil || err == health.ErrProbeTimeout: // net/http returns the cause as is
		err = fmt.Errorf("%w after %v", health.ErrProbeTimeout, c.cfg.Timeout)
	case errors.Is(err, health.ErrProbeTimeout): // already says so
	default:
		err = fmt.Errorf("%w after %v: %w", health.ErrProbeTimeout, c.cfg.Timeout, err)
	}
	r.Err = err
	return r
}

// call runs the Prober, turning a panic into an error wrapping
// ErrProbePanic.
func (c *Checker) call(ctx context.Context, addr string) (panicked bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			panicked, err = true, fmt.Errorf("%w: %v", health.ErrProbePanic, p)
		}
	}()
	return false, c.cfg.Probe.Probe(ctx, addr)
}

// schedule is a min-heap of targets by due time, then by seq: first
// scheduled first among equal due times. It implements heap.Interface.
type schedule []*target

func (s schedule) Len() int { return len(s) }

func (s schedule) Less(i, j int) bool {
	a, b := s[i], s[j]
	return a.due.Before(b.due) || a.due.Equal(b.due) && a.seq < b.seq
}

func (s schedule) Swap(i, j int) {
	s[i], s[j] = s[j], s[i]
	s[i].index, s[j].index = i, j
}

func (s *schedule) Push(x any) {
	t := x.(*target)
	t.index = len(*s)
	*s = append(*s, t)
}

func (s *schedule) Pop() any {
	old := *s
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*s = old[:len(old)-1]
	t.index = -1
	return t
}
