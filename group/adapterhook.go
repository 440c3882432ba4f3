package group

import "github.com/go-elb/elb/internal/adapterhook"

func init() {
	adapterhook.AwaitReady = func(cfg any) { cfg.(*Config).awaitReady = true }
	adapterhook.SetReady = func(g any, id string, ready bool, reason string) error {
		return g.(*Group).setReady(id, ready, reason)
	}
}
