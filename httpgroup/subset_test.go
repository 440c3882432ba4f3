package httpgroup_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/httpgroup"
)

// With subsetting, only the subset's members get requests, and the
// Transport dials no other: the others are members all the same.
func TestSubsetOnlyItsMembersGetRequests(t *testing.T) {
	var bs []*backend
	var members []group.Backend
	for i := range 6 {
		b := newBackend(t, fmt.Sprint("b", i), nil)
		bs = append(bs, b)
		members = append(members, group.Backend{ID: b.id, Addr: b.addr()})
	}
	g := newGroup(t, group.Config{Name: "orders", Subset: &group.SubsetConfig{Size: 2, ClientIndex: 1, ClientCount: 3}}, members...)
	in := map[string]bool{}
	for _, b := range g.Stats().Backends {
		if !b.OutsideSubset {
			in[b.ID] = true
		}
	}
	require.Len(t, in, 2)
	rec := &recorder{base: testBase(t)}
	tr := httpgroup.NewTransport(g, rec)
	for range 40 {
		_, id := get(t, tr, "http://orders/", nil)
		assert.True(t, in[id], "answered by %s, outside the subset %v", id, in)
	}
	for _, b := range bs {
		if in[b.id] {
			assert.Equal(t, int64(20), b.hits.Load(), b.id)
		} else {
			assert.Zero(t, b.hits.Load(), b.id)
		}
	}
	for _, h := range rec.dialled() {
		found := false
		for _, b := range bs {
			found = found || (b.addr() == h && in[b.id])
		}
		assert.True(t, found, "sent to %s, outside the subset", h)
	}
	assert.Equal(t, 6, g.Len())
}
