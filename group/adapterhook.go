package group

import (
	"github.com/go-elb/elb/balancer"
	"github.com/go-elb/elb/internal/adapterhook"
)

func init() {
	adapterhook.AwaitReady = func(cfg any) { cfg.(*Config).awaitReady = true }
	adapterhook.SetReady = func(g any, id string, ready bool, reason string) error {
		return g.(*Group).setReady(id, ready, reason)
	}
	adapterhook.RecordServerLoad = func(g any, id string, r any) error {
		return g.(*Group).recordServerLoad(id, r.(balancer.ServerLoad))
	}
}

// recordServerLoad records an out-of-band load report for member id.
func (g *Group) recordServerLoad(id string, r balancer.ServerLoad) error {
	g.mu.Lock()
	m := g.byID[id]
	g.mu.Unlock()
	if m == nil {
		return &BackendError{Group: g.cfg.Name, ID: id, Err: ErrUnknownBackend}
	}
	m.load.RecordServerLoad(r)
	return nil
}
