package group_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
)

// logBuffer is a buffer that a logger may write to while a test reads it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// records decodes the JSON records written so far.
func (b *logBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(b.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var r map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &r), line)
		out = append(out, r)
	}
	return out
}

// jsonLogger returns a logger that writes JSON records of level and above
// to a buffer.
func jsonLogger(level slog.Level) (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: level})), b
}

// withoutTime returns the records without their time.
func withoutTime(rs []map[string]any) []map[string]any {
	for _, r := range rs {
		delete(r, slog.TimeKey)
	}
	return rs
}

func TestLoggerRecordsEvents(t *testing.T) {
	logger, buf := jsonLogger(slog.LevelDebug)
	c := newChecked(t, group.Config{Name: "web", Logger: logger, PanicThreshold: 60,
		Health: &health.Config{HealthyThreshold: 1, UnhealthyThreshold: 1}},
		group.Backend{ID: "a", Addr: "10.0.0.1:80", Weight: group.Weight(2), Zone: "az1"},
		group.Backend{ID: "b", Addr: "10.0.0.2:80", Zone: "az2"},
	)
	c.rec.await(t, func(evs []group.Event) bool { return len(evs) == 4 })
	rs := buf.records(t)
	require.Len(t, rs, 4)
	assert.Equal(t, c.clk.Now().Format(time.RFC3339Nano), rs[0][slog.TimeKey], "the event's time, from the group's clock")
	assert.Equal(t, []map[string]any{
		{"level": "INFO", "msg": "backend added", "group": "web", "event": "added", "backend": "a", "addr": "10.0.0.1:80", "zone": "az1", "weight": 2.0},
		{"level": "INFO", "msg": "backend added", "group": "web", "event": "added", "backend": "b", "addr": "10.0.0.2:80", "zone": "az2", "weight": 1.0},
	}, withoutTime(rs[:2]))
	// The two first checks pass in either order.
	for _, r := range withoutTime(rs[2:]) {
		id := r["backend"]
		assert.Equal(t, map[string]any{"level": "INFO", "msg": "backend state changed", "group": "web", "event": "state_changed",
			"backend": id, "addr": map[any]string{"a": "10.0.0.1:80", "b": "10.0.0.2:80"}[id], "zone": map[any]string{"a": "az1", "b": "az2"}[id],
			"from": "initial", "state": "healthy", "reason": "health check passed"}, r)
	}

	// A request in flight on a, to see its drain later.
	var p group.Pick
	for p.ID() != "a" {
		p.Done(nil)
		var err error
		p, err = c.Pick(ctx, group.Request{})
		require.NoError(t, err)
	}

	// b fails: unhealthy, which puts 1 of 2 healthy, under 60%: panic;
	// and az2 has no healthy backend left.
	c.fleet.set("10.0.0.2:80", true)
	c.step(t, 1)
	c.rec.await(t, func(evs []group.Event) bool { return len(evs) == 7 })
	assert.Equal(t, []map[string]any{
		{"level": "WARN", "msg": "backend state changed", "group": "web", "event": "state_changed", "backend": "b", "addr": "10.0.0.2:80", "zone": "az2",
			"from": "healthy", "state": "unhealthy", "reason": "health check failed: connection refused"},
		{"level": "WARN", "msg": "panic mode: too few healthy backends, routing to all", "group": "web", "event": "panic"},
		{"level": "WARN", "msg": "zone down: no healthy backend left", "group": "web", "event": "zone_down", "zone": "az2"},
	}, withoutTime(buf.records(t)[4:]))

	// b recovers; a goes to weight 0, then leaves with its request in
	// flight, which ends its drain.
	c.fleet.set("10.0.0.2:80", false)
	c.step(t, 1)
	require.NoError(t, c.Update(group.Backend{ID: "a", Addr: "10.0.0.1:80", Weight: group.Weight(0), Zone: "az1"}))
	require.NoError(t, c.Remove("a"))
	p.Done(nil)
	c.rec.await(t, func(evs []group.Event) bool { return len(evs) == 13 })
	assert.Equal(t, []map[string]any{
		{"level": "INFO", "msg": "backend state changed", "group": "web", "event": "state_changed", "backend": "b", "addr": "10.0.0.2:80", "zone": "az2",
			"from": "unhealthy", "state": "healthy", "reason": "health check passed"},
		{"level": "INFO", "msg": "panic mode ended", "group": "web", "event": "panic_end"},
		{"level": "INFO", "msg": "zone up: a backend is healthy again", "group": "web", "event": "zone_up", "zone": "az2"},
		{"level": "INFO", "msg": "backend updated", "group": "web", "event": "updated", "backend": "a", "addr": "10.0.0.1:80", "zone": "az1", "weight": 0.0},
		{"level": "INFO", "msg": "backend draining", "group": "web", "event": "draining", "backend": "a", "addr": "10.0.0.1:80", "zone": "az1", "in_flight": 1.0},
		{"level": "INFO", "msg": "backend removed", "group": "web", "event": "removed", "backend": "a", "addr": "10.0.0.1:80", "zone": "az1", "in_flight": 0.0},
	}, withoutTime(buf.records(t)[7:]))
}

func TestLoggerLevels(t *testing.T) {
	logger, buf := jsonLogger(slog.LevelWarn)
	g, clk := newGroup(t, group.Config{Name: "web", Logger: logger, DrainTimeout: time.Minute},
		group.Backend{ID: "a", Addr: "10.0.0.1:80"}, group.Backend{ID: "b", Addr: "10.0.0.2:80"})
	rec := record(g)
	p, err := g.Pick(ctx, group.Request{})
	require.NoError(t, err)
	defer p.Done(nil)
	require.NoError(t, g.Remove(p.ID()))
	clk.Advance(time.Minute) // the drain timeout cuts the request short
	rec.await(t, func(evs []group.Event) bool { return evs[len(evs)-1].Type == group.EventRemoved })
	// Added and draining are Info: only the cut drain is logged.
	assert.Equal(t, []map[string]any{
		{"level": "WARN", "msg": "backend removed", "group": "web", "event": "removed", "backend": p.ID(), "addr": p.Addr(), "in_flight": 1.0},
	}, withoutTime(buf.records(t)))
}

func TestLoggerClosedGroup(t *testing.T) {
	logger, buf := jsonLogger(slog.LevelInfo)
	g, err := group.New(group.Config{Name: "web", Logger: logger})
	require.NoError(t, err)
	require.NoError(t, g.Close(ctx))
	assert.Equal(t, []map[string]any{{"level": "INFO", "msg": "group closed", "group": "web", "event": "closed"}},
		withoutTime(buf.records(t)))
}

// Config.Logger logs every event of the group with log/slog; here as
// text, without the time so that the output is the same on every run.
func ExampleConfig_logger() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	}))
	g, err := group.New(group.Config{Name: "web", Logger: logger})
	if err != nil {
		panic(err)
	}
	if err := g.Add(group.Backend{ID: "web-1", Addr: "10.0.0.1:8080", Weight: group.Weight(3), Zone: "az1"}); err != nil {
		panic(err)
	}
	if err := g.Update(group.Backend{ID: "web-1", Addr: "10.0.0.1:8080", Weight: group.Weight(0), Zone: "az1"}); err != nil {
		panic(err)
	}
	if err := g.Close(ctx); err != nil {
		fmt.Println(err)
	}
	// Output:
	// level=INFO msg="backend added" group=web event=added backend=web-1 addr=10.0.0.1:8080 zone=az1 weight=3
	// level=INFO msg="backend updated" group=web event=updated backend=web-1 addr=10.0.0.1:8080 zone=az1 weight=0
	// level=INFO msg="backend draining" group=web event=draining backend=web-1 addr=10.0.0.1:8080 zone=az1 in_flight=0
	// level=INFO msg="backend removed" group=web event=removed backend=web-1 addr=10.0.0.1:8080 zone=az1 in_flight=0
	// level=INFO msg="group closed" group=web event=closed
}
