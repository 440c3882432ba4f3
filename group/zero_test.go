package group_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/go-elb/elb/group"
)

// The zero Group is not a group: every method says so with ErrNotNew, or
// returns its zero value, and none panics or blocks.
func TestTheZeroGroupSaysItWasNotMadeByNew(t *testing.T) {
	var g group.Group
	notNew := func(name string, err error) {
		t.Helper()
		assert.ErrorIs(t, err, group.ErrNotNew, name)
		assert.EqualError(t, err, "elb: group not made by New: the zero Group cannot be used: make one with group.New", name)
	}
	b := group.Backend{Addr: "10.0.0.1:80"}
	_, err := g.Pick(ctx, group.Request{})
	notNew("Pick", err)
	_, err = g.Repick(ctx, group.Request{}, &group.Tried{})
	notNew("Repick", err)
	notNew("Add", g.Add(b))
	notNew("Update", g.Update(b))
	notNew("Remove", g.Remove("x"))
	notNew("Set", g.Set([]group.Backend{b}))
	notNew("WaitReady", g.WaitReady(ctx))
	notNew("Sync", group.Sync(ctx, &g, idleSource{}, group.SyncConfig{}))
	v := g.NewView()
	_, _, err = v.Pick(ctx, group.Request{})
	notNew("View.Pick", err)
	notNew("Close", g.Close(ctx))

	assert.Empty(t, g.Backends())
	assert.Zero(t, g.Available())
	assert.Zero(t, g.Len())
	assert.Equal(t, group.Stats{}, g.Stats())
	_, ok := g.StickyConfig()
	assert.False(t, ok)
	g.Subscribe(func(group.Event) {})()
	v.Close()
}

// idleSource is a Source that never has news.
type idleSource struct{}

func (idleSource) Next(ctx context.Context) (group.SourceUpdate, error) {
	<-ctx.Done()
	return group.SourceUpdate{}, ctx.Err()
}
