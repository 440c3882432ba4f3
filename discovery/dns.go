package discovery

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
	"github.com/go-elb/elb/internal/cfgerr"
	"github.com/go-elb/elb/internal/wait"
)

// Defaults of DNS.
const (
	// DefaultDNSInterval is DNS.Interval when it is 0.
	DefaultDNSInterval = 30 * time.Second
	// DefaultDNSMinInterval is DNS.MinInterval when it is 0.
	DefaultDNSMinInterval = time.Second
)

// ttlQueryTimeout bounds the query that reads the records' TTLs. A
// variable for tests.
var ttlQueryTimeout = 2 * time.Second

// ttlBackoff is how many lookups after a failed TTL query go without one,
// refreshing on DNS.Interval: a name server that does not answer the TTL
// query delays one update in ttlBackoff+1 by the query's timeout, not
// every update.
const ttlBackoff = 4

// resolvConf is where the TTL query finds a name server when
// DNS.Resolver has no Dial function.
var resolvConf = "/etc/resolv.conf"

// DNS configures a source of backends from DNS: SRV records, or A and AAAA
// records with a fixed port. The zero value is not valid: Name is
// required, and Port unless SRV.
type DNS struct {
	// Name is the name looked up, required. With SRV it is the SRV
	// records' name, such as "_grpc._tcp.orders.svc.cluster.local", or,
	// with Service and Proto set, the domain they are looked up in;
	// without SRV it is a host name whose A and AAAA records are the
	// backends. A name that ends in "." is looked up as it is; any other
	// goes through the resolver's search list (and then, as the TTL query
	// uses the name as given, may refresh on Interval only).
	Name string

	// SRV selects SRV records: each record of the lowest priority value is
	// a backend at target:port (RFC 2782: records of a higher priority
	// value are backups, not used while one of the lowest exists), with
	// the record's weight, 0-65535, scaled onto 1-100 relative to the
	// largest (the largest gets 100, 0 gets 1; if every weight is 0 each
	// backend's Weight is nil, group.DefaultWeight). An SRV weight of 0 is
	// never a group weight of 0: RFC 2782 gives it "a very small chance of
	// being selected", not none. Records with the same target and
	// port are one backend, their weights added up. Records with the
	// target "." (the service is decidedly not available, RFC 2782) or port
	// 0 (no backend listens there) are left out before the lowest priority
	// is chosen; if none is left, the lookup fails with ErrNoRecords. false
	// selects A and AAAA records.
	SRV bool

	// Service and Proto, with SRV, make the name looked up
	// "_Service._Proto.Name", as net.Resolver.LookupSRV does. Both or
	// neither; not without SRV.
	Service, Proto string

	// Port is the backends' port, 1-65535, required without SRV (A and
	// AAAA records carry no port) and invalid with it (SRV records carry
	// their own).
	Port int

	// Network is the address family without SRV: "ip" (A and AAAA
	// records), "ip4" (A only) or "ip6" (AAAA only). "" means "ip".
	Network string

	// Zone is the zone of every backend found; "" means none.
	Zone string

	// Interval is the longest time between two lookups. A lookup whose
	// records have a shorter TTL is repeated when the TTL expires instead.
	// 0 means DefaultDNSInterval (30s); negative values and values below
	// MinPollInterval (1ms) are invalid.
	Interval time.Duration

	// MinInterval is the shortest time between two successful lookups,
	// however short the TTLs, at most Interval. 0 means
	// DefaultDNSMinInterval (1s); negative values and values below
	// MinPollInterval (1ms) are invalid.
	MinInterval time.Duration

	// Resolver makes the lookups; nil means net.DefaultResolver. Its Dial
	// function, if set, also carries the TTL query: dialed with "udp",
	// and with "tcp" after a truncated answer, as net.Resolver dials it.
	Resolver *net.Resolver

	// Clock times the refreshes; nil means the real clock.
	Clock group.Clock
}

// DNSSource is a group.Source that looks backends up in DNS. Create one
// with NewDNS.
//
// The first Next looks the name up at once; each later one waits for the
// refresh time of the previous successful lookup, and looks up at once
// after a failed one. A failed lookup, NXDOMAIN or an answer without
// records (ErrNoRecords) is returned as an error, never as an empty list,
// so group.Sync keeps the group's members. Each successful lookup returns
// a Full update, changed or not: group.Set applies an unchanged list as a
// no-op.
//
// net.Resolver does not expose the records' TTLs, so after each
// successful lookup the source sends the same question once more, itself,
// with golang.org/x/net/dns/dnsmessage: through DNS.Resolver's Dial if it
// has one, otherwise to the first name server of /etc/resolv.conf, over
// UDP with EDNS0 (answers up to 1232 bytes), and again over TCP if the
// answer comes truncated, as larger ones (50 SRV records, 80 A records)
// do. The next lookup comes after the smallest TTL in that answer (CNAMEs
// included), or Interval if that is shorter, and never before
// MinInterval. If the TTL query fails (no answer within 2s, an error, no
// records), the next lookup comes after Interval, and so do the 4
// successful lookups after it, which skip the TTL query: the query runs
// inside Next, before the update is returned, so a name server that never
// answers it would otherwise delay every update by 2s. The lookup after
// those tries the TTL query again.
//
// Next may be called from one goroutine at a time; concurrent calls wait
// their turn.
type DNSSource struct {
	cfg   DNS
	res   *net.Resolver
	clock group.Clock
	name  string // the name looked up, as DNS.Name or "_Service._Proto.Name"
	what  string // what is looked up, for errors: "SRV", "A/AAAA", "A", "AAAA"
	types []dnsmessage.Type

	// ttl reads the records' smallest TTL: queryTTL, or a test's stand-in.
	ttl func(ctx context.Context, name string) (time.Duration, error)

	sem     chan struct{} // one Next at a time; guards due and skipTTL
	due     time.Time     // when the next lookup is due; zero: at once
	skipTTL int           // successful lookups left that skip the TTL query
}

// NewDNS returns a DNS source, or an *elb.ConfigError (wrapping
// elb.ErrInvalidConfig) for the first field of cfg out of range.
func NewDNS(cfg DNS) (*DNSSource, error) {
	var err error
	if cfg.Interval, err = interval("Interval", cfg.Interval, DefaultDNSInterval); err != nil {
		return nil, err
	}
	if cfg.MinInterval, err = interval("MinInterval", cfg.MinInterval, DefaultDNSMinInterval); err != nil {
		return nil, err
	}
	if cfg.MinInterval > cfg.Interval {
		return nil, cfgerr.New("MinInterval", cfg.MinInterval, fmt.Sprintf("must be at most Interval (%v)", cfg.Interval))
	}
	s := &DNSSource{cfg: cfg, res: cfg.Resolver, clock: cfg.Clock, sem: make(chan struct{}, 1)}
	if s.res == nil {
		s.res = net.DefaultResolver
	}
	if s.clock == nil {
		s.clock = health.RealClock{}
	}
	s.ttl = s.queryTTL
	if cfg.Name == "" {
		return nil, cfgerr.New("Name", nil, "is required")
	}
	s.name = cfg.Name
	if cfg.SRV {
		switch {
		case cfg.Port != 0:
			return nil, cfgerr.New("Port", cfg.Port, "must be 0 with SRV: SRV records carry their ports")
		case cfg.Network != "":
			return nil, cfgerr.New("Network", cfg.Network, "must be empty with SRV")
		case (cfg.Service == "") != (cfg.Proto == ""):
			return nil, cfgerr.New("Service", cfg.Service, fmt.Sprintf("Service and Proto (%q) go together", cfg.Proto))
		case cfg.Service != "":
			s.name = "_" + cfg.Service + "._" + cfg.Proto + "." + cfg.Name
		}
		s.what, s.types = "SRV", []dnsmessage.Type{dnsmessage.TypeSRV}
	} else {
		switch {
		case cfg.Service != "" || cfg.Proto != "":
			return nil, cfgerr.New("Service", cfg.Service+"/"+cfg.Proto, "Service and Proto need SRV")
		case cfg.Port < 1 || cfg.Port > 65535:
			return nil, cfgerr.New("Port", cfg.Port, "must be 1-65535 (A and AAAA records carry no port)")
		}
		switch cfg.Network {
		case "", "ip":
			s.cfg.Network = "ip"
			s.what, s.types = "A/AAAA", []dnsmessage.Type{dnsmessage.TypeA, dnsmessage.TypeAAAA}
		case "ip4":
			s.what, s.types = "A", []dnsmessage.Type{dnsmessage.TypeA}
		case "ip6":
			s.what, s.types = "AAAA", []dnsmessage.Type{dnsmessage.TypeAAAA}
		default:
			return nil, cfgerr.New("Network", cfg.Network, `must be "ip", "ip4" or "ip6"`)
		}
	}
	if _, err := dnsmessage.NewName(absolute(s.name)); err != nil {
		return nil, cfgerr.New("Name", s.name, "is not a valid DNS name: "+err.Error())
	}
	return s, nil
}

// Next waits until a lookup is due, looks the name up and returns the
// backends found as a Full update, or the lookup's error.
func (s *DNSSource) Next(ctx context.Context) (group.SourceUpdate, error) {
	if err := lock(ctx, s.sem); err != nil {
		return group.SourceUpdate{}, err
	}
	defer func() { <-s.sem }()
	if !s.due.IsZero() {
		if err := wait.Sleep(ctx, s.clock, s.due.Sub(s.clock.Now())); err != nil {
			return group.SourceUpdate{}, err
		}
	}
	start := s.clock.Now()
	bs, canonical, err := s.lookup(ctx)
	if err != nil {
		s.due = time.Time{} // the next call tries again at once
		if ctx.Err() != nil {
			return group.SourceUpdate{}, ctx.Err()
		}
		return group.SourceUpdate{}, err
	}
	refresh := s.cfg.Interval
	if s.skipTTL > 0 {
		s.skipTTL--
	} else if ttl, err := s.ttl(ctx, canonical); err == nil {
		refresh = min(refresh, ttl)
	} else if ctx.Err() == nil { // a canceled Next is not the server's fault
		s.skipTTL = ttlBackoff
	}
	s.due = start.Add(max(refresh, s.cfg.MinInterval))
	return group.SourceUpdate{Full: true, Backends: bs}, nil
}

// lookup resolves the name and returns the backends and the name to ask
// for TTLs.
func (s *DNSSource) lookup(ctx context.Context) ([]group.Backend, string, error) {
	if s.cfg.SRV {
		cname, recs, err := s.res.LookupSRV(ctx, s.cfg.Service, s.cfg.Proto, s.cfg.Name)
		if err != nil {
			return nil, "", s.lookupError(err)
		}
		bs, err := srvBackends(recs, s.cfg.Zone)
		if err != nil {
			return nil, "", fmt.Errorf("elb: discovery: lookup %s %s: %w", s.what, s.name, err)
		}
		if cname == "" {
			cname = s.name
		}
		return bs, cname, nil
	}
	ips, err := s.res.LookupNetIP(ctx, s.cfg.Network, s.cfg.Name)
	if err != nil {
		return nil, "", s.lookupError(err)
	}
	port := strconv.Itoa(s.cfg.Port)
	addrs := make([]string, 0, len(ips))
	for _, ip := range ips {
		addrs = append(addrs, net.JoinHostPort(ip.Unmap().WithZone("").String(), port))
	}
	slices.Sort(addrs)
	addrs = slices.Compact(addrs)
	if len(addrs) == 0 {
		return nil, "", fmt.Errorf("elb: discovery: lookup %s %s: %w", s.what, s.name, ErrNoRecords)
	}
	bs := make([]group.Backend, len(addrs))
	for i, a := range addrs {
		bs[i] = group.Backend{ID: a, Addr: a, Zone: s.cfg.Zone}
	}
	return bs, s.name, nil
}

// lookupError wraps a resolver's error, adding ErrNoRecords to a name not
// found.
func (s *DNSSource) lookupError(err error) error {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return fmt.Errorf("elb: discovery: lookup %s %s: %w: %w", s.what, s.name, ErrNoRecords, err)
	}
	return fmt.Errorf("elb: discovery: lookup %s %s: %w", s.what, s.name, err)
}

// srvBackends makes backends of SRV records, as DNS.SRV documents.
func srvBackends(recs []*net.SRV, zone string) ([]group.Backend, error) {
	var usable []*net.SRV
	for _, r := range recs {
		// ".": "decidedly not available" (RFC 2782); port 0: nothing
		// listens there, and the group refuses the address.
		if r.Target != "" && r.Target != "." && r.Port != 0 {
			usable = append(usable, r)
		}
	}
	if len(usable) == 0 {
		return nil, fmt.Errorf("%w: no SRV record with a target and a port", ErrNoRecords)
	}
	prio := usable[0].Priority
	for _, r := range usable {
		prio = min(prio, r.Priority)
	}
	weights := make(map[string]int)
	var addrs []string
	for _, r := range usable {
		if r.Priority != prio {
			continue
		}
		a := net.JoinHostPort(strings.ToLower(strings.TrimSuffix(r.Target, ".")), strconv.Itoa(int(r.Port)))
		if _, ok := weights[a]; !ok {
			addrs = append(addrs, a)
		}
		weights[a] += int(r.Weight)
	}
	slices.Sort(addrs)
	largest := 0
	for _, w := range weights {
		largest = max(largest, w)
	}
	bs := make([]group.Backend, len(addrs))
	for i, a := range addrs {
		bs[i] = group.Backend{ID: a, Addr: a, Zone: zone}
		if largest > 0 {
			bs[i].Weight = group.Weight(max(1, (weights[a]*group.MaxWeight+largest/2)/largest))
		}
	}
	return bs, nil
}

// queryTTL asks for name's records of the source's types, as Next
// documents, and returns the smallest TTL of the answers.
func (s *DNSSource) queryTTL(ctx context.Context, name string) (time.Duration, error) {
	qname, err := dnsmessage.NewName(absolute(name))
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, ttlQueryTimeout)
	defer cancel()
	dial := s.res.Dial
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	server := nameServer()
	found := false
	var least uint32
	for _, t := range s.types {
		ttl, ok, err := exchange(ctx, dial, server, qname, t)
		if err != nil {
			return 0, err
		}
		if ok && (!found || ttl < least) {
			found, least = true, ttl
		}
	}
	if !found {
		return 0, fmt.Errorf("no %s records for %s", s.what, name)
	}
	return time.Duration(least) * time.Second, nil
}

// ednsUDPSize is the largest UDP answer the TTL query asks for, in its
// EDNS0 OPT record (RFC 6891): 1232 bytes, the DNS flag day 2020 value,
// which fits an IPv6 packet without fragmentation. Larger answers come
// truncated and are asked for again over TCP.
const ednsUDPSize = 1232

// errTruncated is an answer with the TC bit: the server could not fit it
// in the UDP size asked for.
var errTruncated = errors.New("truncated answer")

// exchange sends one question to server and returns the smallest TTL of
// the answer's records of type t and the CNAMEs leading to them, and
// whether it held any record of type t. The question goes over UDP, with
// EDNS0, and again over TCP if the answer is truncated.
func exchange(ctx context.Context, dial func(context.Context, string, string) (net.Conn, error),
	server string, name dnsmessage.Name, t dnsmessage.Type) (uint32, bool, error) {
	id := uint16(rand.Uint32())
	b := dnsmessage.NewBuilder(make([]byte, 2, 514), dnsmessage.Header{ID: id, RecursionDesired: true})
	b.EnableCompression()
	_ = b.StartQuestions()
	q := dnsmessage.Question{Name: name, Type: t, Class: dnsmessage.ClassINET}
	_ = b.Question(q)
	_ = b.StartAdditionals()
	var opt dnsmessage.ResourceHeader
	if err := opt.SetEDNS0(ednsUDPSize, dnsmessage.RCodeSuccess, false); err != nil {
		return 0, false, err
	}
	_ = b.OPTResource(opt, dnsmessage.OPTResource{})
	msg, err := b.Finish()
	if err != nil {
		return 0, false, err
	}
	resp, stream, err := roundTrip(ctx, dial, "udp", server, msg, id)
	if err != nil {
		return 0, false, err
	}
	ttl, found, err := answerTTL(resp, q, id)
	if errors.Is(err, errTruncated) && !stream {
		if resp, _, err = roundTrip(ctx, dial, "tcp", server, msg, id); err != nil {
			return 0, false, fmt.Errorf("over TCP after a truncated answer: %w", err)
		}
		ttl, found, err = answerTTL(resp, q, id)
	}
	return ttl, found, err
}

// roundTrip sends msg (a query with two bytes free before it for TCP's
// length) on a connection dialed to server on network and returns the
// response, and whether the connection was a stream.
func roundTrip(ctx context.Context, dial func(context.Context, string, string) (net.Conn, error),
	network, server string, msg []byte, id uint16) ([]byte, bool, error) {
	conn, err := dial(ctx, network, server)
	if err != nil {
		return nil, false, err
	}
	defer conn.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if _, packets := conn.(net.PacketConn); packets {
		if _, err := conn.Write(msg[2:]); err != nil {
			return nil, false, err
		}
		buf := make([]byte, 65535) // a server may send more than asked for
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return nil, false, err
			}
			var p dnsmessage.Parser
			if h, err := p.Start(buf[:n]); err == nil && h.ID == id && h.Response {
				return buf[:n], false, nil
			}
		}
	}
	// A stream: TCP framing, a two-byte length before each message.
	binary.BigEndian.PutUint16(msg, uint16(len(msg)-2))
	if _, err := conn.Write(msg); err != nil {
		return nil, true, err
	}
	var l [2]byte
	if _, err := io.ReadFull(conn, l[:]); err != nil {
		return nil, true, err
	}
	resp := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(conn, resp); err != nil {
		return nil, true, err
	}
	return resp, true, nil
}

// answerTTL parses a response, untrusted, to the question q of ID id and
// returns the smallest TTL of its answers of q's type and of CNAMEs, and
// whether it held any answer of q's type. A truncated response is
// errTruncated: its answers may be incomplete.
func answerTTL(resp []byte, q dnsmessage.Question, id uint16) (uint32, bool, error) {
	var p dnsmessage.Parser
	h, err := p.Start(resp)
	if err != nil {
		return 0, false, err
	}
	if h.ID != id || !h.Response {
		return 0, false, errors.New("not the response to the query")
	}
	if h.Truncated {
		return 0, false, errTruncated
	}
	if h.RCode != dnsmessage.RCodeSuccess {
		return 0, false, fmt.Errorf("response code %v", h.RCode)
	}
	qs, err := p.AllQuestions()
	if err != nil {
		return 0, false, err
	}
	if len(qs) != 1 || qs[0].Type != q.Type || qs[0].Class != q.Class ||
		!strings.EqualFold(qs[0].Name.String(), q.Name.String()) {
		return 0, false, errors.New("the response is to another question")
	}
	var least uint32
	counted, found := false, false
	for {
		rh, err := p.AnswerHeader()
		if errors.Is(err, dnsmessage.ErrSectionDone) {
			return least, found, nil
		}
		if err != nil {
			return 0, false, err
		}
		if rh.Class == q.Class && (rh.Type == q.Type || rh.Type == dnsmessage.TypeCNAME) {
			if !counted || rh.TTL < least {
				counted, least = true, rh.TTL
			}
			found = found || rh.Type == q.Type
		}
		if err := p.SkipAnswer(); err != nil {
			return 0, false, err
		}
	}
}

// nameServer returns "host:53" for the first name server of resolvConf,
// or the resolver's default, 127.0.0.1:53.
func nameServer() string {
	f, err := os.Open(resolvConf)
	if err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) >= 2 && fields[0] == "nameserver" {
				if ip, err := netip.ParseAddr(fields[1]); err == nil {
					return net.JoinHostPort(ip.String(), "53")
				}
			}
		}
	}
	return "127.0.0.1:53"
}

// absolute returns name ending in ".".
func absolute(name string) string {
	if strings.HasSuffix(name, ".") {
		return name
	}
	return name + "."
}
