// Package etcd keeps a group's membership in step with the backends
// registered in etcd, and registers a backend there: both halves of
// service discovery through etcd, in the layout of etcd's own naming
// package (go.etcd.io/etcd/client/v3/naming/endpoints), so services that
// register with endpoints.Manager are found as they are, and readers of
// that package (etcd's gRPC resolver among them) find what Register
// writes.
//
// A service's backends are the keys under a prefix, "services/orders/"
// + ID, each holding endpoint JSON with the weight and zone in its
// metadata:
//
//	services/orders/a  {"Op": 0, "Addr": "10.0.1.5:8080", "Metadata": {"weight": 5, "zone": "az1"}}
//
// A backend process publishes itself with Register, under a lease that it
// keeps alive, so that it leaves every client's group when it dies:
//
//	reg, err := etcd.Register(ctx, client, "services/orders",
//		group.Backend{ID: "a", Addr: "10.0.1.5:8080", Weight: group.Weight(5), Zone: "az1"}, etcd.RegisterConfig{})
//	if err != nil {
//		return err
//	}
//	defer reg.Close(context.Background()) // deletes the key at once: drain first (see Register)
//
// A client follows the prefix with a Source and group.Sync:
//
//	src, err := etcd.NewSource(etcd.Config{Client: client, Prefix: "services/orders"})
//	if err != nil {
//		return err
//	}
//	if err := group.Sync(ctx, g, src, group.SyncConfig{OnError: func(err error) { log.Print(err) }}); err != nil {
//		return err
//	}
//
// The Source lists the prefix once and then watches it from the list's
// revision, passing each change on as a diff; after a compaction or a
// broken watch it lists again. An entry it cannot use is skipped and
// reported (an *EntryError), never defaulted; an etcd that cannot be
// reached is Next's error, and group.Sync keeps the last good membership.
//
// This package is a module of its own (github.com/go-elb/elb/discovery/etcd),
// so that the etcd client and its dependencies stay out of programs that
// use elb without etcd. Until elb is tagged, a program of its own module
// imports it through a replace of both modules, github.com/go-elb/elb and
// this one, to a checkout of elb (the README's "Importing it from your
// program", under Prometheus metrics).
//
// # Errors
//
// Configuration errors are *elb.ConfigError values wrapping
// elb.ErrInvalidConfig, naming the field; every error is usable with
// errors.Is and errors.As.
package etcd
