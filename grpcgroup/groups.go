package grpcgroup

import (
	"context"
	"fmt"
	"reflect"
	"strings"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/sticky"
)

// useGroup makes the group of src the one the channel picks from: the
// registry's group itself behind an elb:/// target, whatever cfg says of
// group settings (see warnIgnored); under other resolvers a group of the
// channel's own, built from cfg and holding backends, rebuilt when cfg
// changes. The caller holds b.mu.
func (b *elbBalancer) useGroup(cfg *Config, src groupInfo, backends []group.Backend) error {
	if src.Group != nil {
		if b.g != src.Group {
			b.leaveGroup()
			b.joinGroup(src.Group, false)
		}
		b.cfg, b.src = cfg, src
		b.warnIgnored(cfg)
		return nil
	}
	g := b.g
	// A new group for a new config, or in place of one that someone
	// closed (Channels lists it): a closed group would refuse every update.
	fresh := g == nil || !b.own || !reflect.DeepEqual(cfg, b.cfg) || src != b.src || g.Stats().Closed
	if fresh {
		gc := cfg.groupConfig(fmt.Sprintf("%s#%d", src.Name, channelSeq.Add(1)), src.Algorithm, b.probe(cfg))
		gc.Registry = &Channels
		var err error
		if g, err = group.New(gc); err != nil {
			return err
		}
	}
	if err := g.Set(backends); err != nil {
		if fresh {
			go g.Close(context.Background())
		}
		return err
	}
	if fresh {
		b.leaveGroup()
		b.joinGroup(g, true)
	}
	b.cfg, b.src = cfg, src
	return nil
}

// joinGroup starts picking from g through a view of its own. The caller
// holds b.mu.
func (b *elbBalancer) joinGroup(g *group.Group, own bool) {
	b.g, b.own, b.view = g, own, g.NewView()
	b.unsub = g.Subscribe(func(group.Event) { b.poke() })
}

// leaveGroup stops picking from the group: the calls in flight end in it
// as usual; a group of the channel's own closes (draining them). The
// caller holds b.mu.
func (b *elbBalancer) leaveGroup() {
	if b.g == nil {
		return
	}
	b.unsub()
	b.view.Close()
	if b.own {
		go b.g.Close(context.Background())
	}
	b.g, b.view, b.unsub, b.own = nil, nil, nil, false
}

// stickyKey is the metadata key that carries a call's binding: the
// header of the group's sticky.Header mode, lowercased (the policy's
// sticky.metadataKey under other resolvers, the registry group's own
// under elb:///), or "" when the group binds by nothing a call carries.
// The caller holds b.mu.
func (b *elbBalancer) stickyKey() string {
	if sc, ok := b.g.StickyConfig(); ok && sc.Mode == sticky.Header {
		return strings.ToLower(sc.Header)
	}
	return ""
}

// warnIgnored logs, once per change, the fields of a policy config that an
// elb:/// channel ignores: the registry's group has its own settings, and
// every channel, HTTP client and direct caller of it shares them. The
// caller holds b.mu.
func (b *elbBalancer) warnIgnored(cfg *Config) {
	gc := cfg.groupConfig("", "", nil)
	var fields []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"algorithm", gc.Algorithm != ""},
		{"localZone", gc.LocalZone != ""},
		{"localZoneMinHealthy", gc.LocalZoneMinHealthy != 0},
		{"panicThreshold", gc.PanicThreshold != 0},
		{"sticky", gc.Sticky != nil},
		{"health", gc.Health != nil},
		{"outlier", gc.Outlier != nil},
		{"slowStart", gc.SlowStart != nil},
		{"drainTimeout", gc.DrainTimeout != 0},
	} {
		if f.set {
			fields = append(fields, f.name)
		}
	}
	list := strings.Join(fields, ", ")
	if list == b.warned {
		return
	}
	b.warned = list
	if list != "" {
		logger.Warningf("elb: channel to elb:///%s ignores the policy's %s: the registry's group %q decides them for every client of it",
			b.src.Name, list, b.src.Name)
	}
}
