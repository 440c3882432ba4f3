// Package discovery finds a group's backends: in DNS (SRV records, or A
// and AAAA records with a fixed port) or in a JSON file. Each source is a
// group.Source; group.Sync applies what it finds to a group and keeps the
// last good membership when a source fails.
//
//	src, err := discovery.NewDNS(discovery.DNS{Name: "_grpc._tcp.orders.svc.cluster.local.", SRV: true})
//	if err != nil {
//		return err
//	}
//	if err := group.Sync(ctx, g, src, group.SyncConfig{OnError: func(err error) { log.Print(err) }}); err != nil {
//		return err
//	}
//
// # DNS
//
// A DNSSource looks its name up at once and again on DNS.Interval (30s),
// sooner when the records' TTL is shorter (but not before
// DNS.MinInterval, 1s). With SRV records each record of the lowest
// priority value is a backend at target:port, its weight scaled onto
// 1-100; with A and AAAA records each address is a backend at DNS.Port. A
// name that does not exist or has no records is an error (ErrNoRecords),
// never an empty list, so a DNS outage or a typo does not empty a group.
//
// The TTLs come from a second query the source sends itself, with
// golang.org/x/net/dns/dnsmessage, because net.Resolver does not report
// them. When that query fails, the source refreshes on DNS.Interval and
// skips the query for the next 4 lookups.
//
// # Files
//
// A FileSource reads a file of the form
//
//	{"backends": [{"id": "a", "addr": "10.0.1.5:8080", "weight": 3, "zone": "az1"}]}
//
// at once and every File.Interval (5s), and returns the backends whenever
// the content changes. A malformed file is an error (a *FileError wrapping
// ErrMalformed) that names the line, column and field of the problem; the
// group keeps the backends of the last good version. Field names are
// case-sensitive and a duplicate field is an error; a UTF-8 byte order
// mark is skipped. The file must be a regular file (ErrNotRegularFile) of
// at most MaxFileSize, 16 MiB (ErrFileTooLarge).
//
// # Errors
//
// Configuration errors are *elb.ConfigError values wrapping elb.ErrInvalidConfig,
// naming the field; every error is usable with errors.Is and errors.As.
package discovery
