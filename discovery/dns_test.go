package discovery

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/dns/dnsmessage"

	"github.com/go-elb/elb"
	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/internal/fakeclock"
)

var ctx = context.Background()

// dnsServer is a DNS server on 127.0.0.1, UDP and TCP on one port, that
// answers from a zone the test sets: a name it does not hold is NXDOMAIN;
// a name it holds is answered with its records of the type asked for,
// possibly none. A UDP answer larger than the query allows (512 bytes, or
// the size in its EDNS0 OPT record) is sent truncated, with the TC bit and
// no answers, as Knot and BIND do.
type dnsServer struct {
	conn   net.PacketConn
	tcp    net.Listener
	silent net.PacketConn // reads queries and answers none

	mu        sync.Mutex
	zone      map[string][]dnsmessage.Resource // by lower-case name
	queries   map[dnsmessage.Type]int
	ttls      int // the source's TTL queries, if marked with watchTTL
	overTCP   int // queries over TCP
	truncated int // UDP answers sent truncated
	dropTTL   bool
}

func newDNSServer(t *testing.T) *dnsServer {
	t.Helper()
	s := &dnsServer{zone: map[string][]dnsmessage.Resource{}, queries: map[dnsmessage.Type]int{}}
	for try := 0; ; try++ { // UDP and TCP on the same port
		conn, err := net.ListenPacket("udp", "127.0.0.1:0")
		require.NoError(t, err)
		l, err := net.Listen("tcp", conn.LocalAddr().String())
		if err == nil {
			s.conn, s.tcp = conn, l
			break
		}
		conn.Close()
		require.Less(t, try, 20, "no port free for both UDP and TCP: %v", err)
	}
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	s.silent = silent
	var wg sync.WaitGroup
	t.Cleanup(func() { s.conn.Close(); s.tcp.Close(); silent.Close(); wg.Wait() })
	wg.Add(2)
	go func() {
		defer wg.Done()
		buf := make([]byte, 65535)
		for {
			n, from, err := s.conn.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp := s.answer(buf[:n], true); resp != nil {
				_, _ = s.conn.WriteTo(resp, from)
			}
		}
	}()
	go func() {
		defer wg.Done()
		for {
			c, err := s.tcp.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				var l [2]byte
				if _, err := io.ReadFull(c, l[:]); err != nil {
					return
				}
				q := make([]byte, binary.BigEndian.Uint16(l[:]))
				if _, err := io.ReadFull(c, q); err != nil {
					return
				}
				s.mu.Lock()
				s.overTCP++
				s.mu.Unlock()
				resp := s.answer(q, false)
				if resp == nil {
					return
				}
				binary.BigEndian.PutUint16(l[:], uint16(len(resp)))
				_, _ = c.Write(append(l[:], resp...))
			}()
		}
	}()
	return s
}

// answer returns the response to the query in msg, received over UDP or
// TCP.
func (s *dnsServer) answer(msg []byte, udp bool) []byte {
	var q dnsmessage.Message
	if err := q.Unpack(msg); err != nil || len(q.Questions) != 1 {
		return nil
	}
	qq := q.Questions[0]
	resp := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: q.ID, Response: true, RecursionDesired: q.RecursionDesired, RecursionAvailable: true},
		Questions: q.Questions,
	}
	limit := 512
	for _, rr := range q.Additionals {
		if rr.Header.Type == dnsmessage.TypeOPT {
			limit = max(limit, int(rr.Header.Class)) // an OPT record's class is its UDP size
		}
	}
	s.mu.Lock()
	s.queries[qq.Type]++
	rrs, ok := s.zone[strings.ToLower(qq.Name.String())]
	s.mu.Unlock()
	if !ok {
		resp.RCode = dnsmessage.RCodeNameError
	}
	for _, rr := range rrs {
		if rr.Header.Type == qq.Type || rr.Header.Type == dnsmessage.TypeCNAME {
			resp.Answers = append(resp.Answers, rr)
		}
	}
	out, err := resp.Pack()
	if err != nil {
		panic(err)
	}
	if udp && len(out) > limit {
		s.mu.Lock()
		s.truncated++
		s.mu.Unlock()
		resp.Truncated, resp.Answers = true, nil
		if out, err = resp.Pack(); err != nil {
			panic(err)
		}
	}
	return out
}

// set makes name hold rrs (none: the name exists without records).
func (s *dnsServer) set(name string, rrs ...dnsmessage.Resource) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.zone[strings.ToLower(name)] = rrs
}

// drop makes name NXDOMAIN.
func (s *dnsServer) drop(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.zone, strings.ToLower(name))
}

// ttlQuery marks the context of a source's TTL query, for the resolver's
// Dial.
type ttlQuery struct{}

// watchTTL makes the server see src's TTL queries: it counts them, and
// leaves them unanswered while told to ignore them.
func (s *dnsServer) watchTTL(src *DNSSource) {
	src.ttl = func(ctx context.Context, name string) (time.Duration, error) {
		s.mu.Lock()
		s.ttls++
		s.mu.Unlock()
		return src.queryTTL(context.WithValue(ctx, ttlQuery{}, true), name)
	}
}

// ttlQueries returns how many TTL queries the sources watched made.
func (s *dnsServer) ttlQueries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ttls
}

// ignoreTTLQueries makes the server leave the TTL queries of the sources
// watched unanswered, or answer them again.
func (s *dnsServer) ignoreTTLQueries(ignore bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropTTL = ignore
}

func (s *dnsServer) count(t dnsmessage.Type) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[t]
}

// transport returns how many queries came over TCP and how many UDP
// answers were truncated.
func (s *dnsServer) transport() (overTCP, truncated int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.overTCP, s.truncated
}

// resolver sends every query to the server, over the network asked for.
func (s *dnsServer) resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		if strings.HasPrefix(network, "tcp") {
			return d.DialContext(ctx, "tcp", s.tcp.Addr().String())
		}
		s.mu.Lock()
		drop := s.dropTTL && ctx.Value(ttlQuery{}) != nil
		s.mu.Unlock()
		if drop {
			return d.DialContext(ctx, "udp", s.silent.LocalAddr().String())
		}
		return d.DialContext(ctx, "udp", s.conn.LocalAddr().String())
	}}
}

func name(s string) dnsmessage.Name { return dnsmessage.MustNewName(s) }

func srvRR(owner string, ttl uint32, prio, weight, port uint16, target string) dnsmessage.Resource {
	return dnsmessage.Resource{
		Header: dnsmessage.ResourceHeader{Name: name(owner), Type: dnsmessage.TypeSRV, Class: dnsmessage.ClassINET, TTL: ttl},
		Body:   &dnsmessage.SRVResource{Priority: prio, Weight: weight, Port: port, Target: name(target)},
	}
}

func addrRR(owner string, ttl uint32, ip string) dnsmessage.Resource {
	a := netip.MustParseAddr(ip)
	h := dnsmessage.ResourceHeader{Name: name(owner), Class: dnsmessage.ClassINET, TTL: ttl}
	if a.Is4() {
		h.Type = dnsmessage.TypeA
		return dnsmessage.Resource{Header: h, Body: &dnsmessage.AResource{A: a.As4()}}
	}
	h.Type = dnsmessage.TypeAAAA
	return dnsmessage.Resource{Header: h, Body: &dnsmessage.AAAAResource{AAAA: a.As16()}}
}

func cnameRR(owner string, ttl uint32, target string) dnsmessage.Resource {
	return dnsmessage.Resource{
		Header: dnsmessage.ResourceHeader{Name: name(owner), Type: dnsmessage.TypeCNAME, Class: dnsmessage.ClassINET, TTL: ttl},
		Body:   &dnsmessage.CNAMEResource{CNAME: name(target)},
	}
}

// described returns "addr/weight@zone" for each backend, weight "-" when
// left out (nil: the default).
func described(bs []group.Backend) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		w := "-"
		if b.Weight != nil {
			w = fmt.Sprint(*b.Weight)
		}
		out[i] = fmt.Sprintf("%s/%s@%s", b.Addr, w, b.Zone)
		if b.ID != b.Addr {
			out[i] += " id " + b.ID
		}
	}
	return out
}

const srvName = "_grpc._tcp.orders.elb.test."

func TestDNSSRV(t *testing.T) {
	srv := newDNSServer(t)
	srv.set(srvName,
		srvRR(srvName, 60, 10, 60, 8080, "a.orders.elb.test."),
		srvRR(srvName, 60, 10, 20, 8081, "B.orders.elb.test."), // names are case-insensitive
		srvRR(srvName, 60, 10, 0, 8082, "c.orders.elb.test."),
		srvRR(srvName, 60, 10, 10, 8081, "b.orders.elb.test."), // the same backend again: weights add up
		srvRR(srvName, 60, 20, 100, 9090, "backup.orders.elb.test."),
	)
	for _, cfg := range []DNS{
		{Name: srvName, SRV: true, Zone: "az1"},
		{Name: "orders.elb.test.", Service: "grpc", Proto: "tcp", SRV: true, Zone: "az1"},
	} {
		cfg.Resolver = srv.resolver()
		s, err := NewDNS(cfg)
		require.NoError(t, err)
		u, err := s.Next(ctx)
		require.NoError(t, err)
		assert.True(t, u.Full)
		assert.Equal(t, []string{
			"a.orders.elb.test:8080/100@az1", // the largest weight
			"b.orders.elb.test:8081/50@az1",  // 30 of 60
			"c.orders.elb.test:8082/1@az1",   // weight 0: the least, not none
		}, described(u.Backends), "only priority 10; the backup at priority 20 is not used")
	}

	// Every weight 0: the default for all.
	srv.set(srvName, srvRR(srvName, 60, 0, 0, 80, "a.elb.test."), srvRR(srvName, 60, 0, 0, 80, "b.elb.test."))
	s, err := NewDNS(DNS{Name: srvName, SRV: true, Resolver: srv.resolver()})
	require.NoError(t, err)
	u, err := s.Next(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"a.elb.test:80/-@", "b.elb.test:80/-@"}, described(u.Backends))

	// Only the "." target: the service is decidedly not available.
	srv.set(srvName, srvRR(srvName, 60, 0, 0, 0, "."))
	s, err = NewDNS(DNS{Name: srvName, SRV: true, Resolver: srv.resolver()})
	require.NoError(t, err)
	_, err = s.Next(ctx)
	assert.ErrorIs(t, err, ErrNoRecords)
}

func TestDNSSRVSkipsPortZero(t *testing.T) {
	srv := newDNSServer(t)
	// Port 0 at the lowest priority value: left out, as "." is, so the
	// records of the next priority are used.
	srv.set(srvName,
		srvRR(srvName, 60, 0, 10, 0, "a.elb.test."),
		srvRR(srvName, 60, 10, 10, 0, "b.elb.test."),
		srvRR(srvName, 60, 10, 10, 8080, "c.elb.test."),
	)
	s, err := NewDNS(DNS{Name: srvName, SRV: true, Resolver: srv.resolver()})
	require.NoError(t, err)
	u, err := s.Next(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"c.elb.test:8080/100@"}, described(u.Backends))

	// A group takes the update.
	g, err := group.New(group.Config{Name: "orders"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = g.Close(ctx) })
	require.NoError(t, g.Set(u.Backends))

	// Nothing but port 0: no records, not a list the group refuses.
	srv.set(srvName, srvRR(srvName, 60, 0, 10, 0, "a.elb.test."), srvRR(srvName, 60, 5, 10, 0, "b.elb.test."))
	s, err = NewDNS(DNS{Name: srvName, SRV: true, Resolver: srv.resolver()})
	require.NoError(t, err)
	_, err = s.Next(ctx)
	require.ErrorIs(t, err, ErrNoRecords)
	assert.Contains(t, err.Error(), "no SRV record with a target and a port")
}

func TestDNSAddressRecords(t *testing.T) {
	srv := newDNSServer(t)
	const host = "orders.elb.test."
	srv.set(host, addrRR(host, 60, "10.0.0.2"), addrRR(host, 60, "10.0.0.1"), addrRR(host, 60, "2001:db8::1"))
	for network, want := range map[string][]string{
		"":    {"10.0.0.1:8080/-@az2", "10.0.0.2:8080/-@az2", "[2001:db8::1]:8080/-@az2"},
		"ip4": {"10.0.0.1:8080/-@az2", "10.0.0.2:8080/-@az2"},
		"ip6": {"[2001:db8::1]:8080/-@az2"},
	} {
		s, err := NewDNS(DNS{Name: host, Port: 8080, Network: network, Zone: "az2", Resolver: srv.resolver()})
		require.NoError(t, err)
		u, err := s.Next(ctx)
		require.NoError(t, err, network)
		assert.True(t, u.Full)
		assert.Equal(t, want, described(u.Backends), network)
	}
}

// nextResult is what a Next called in the background returned.
type nextResult struct {
	u   group.SourceUpdate
	err error
}

func nextAsync(src group.Source) chan nextResult { return nextAsyncCtx(ctx, src) }

func nextAsyncCtx(ctx context.Context, src group.Source) chan nextResult {
	ch := make(chan nextResult, 1)
	go func() {
		u, err := src.Next(ctx)
		ch <- nextResult{u, err}
	}()
	return ch
}

// expectRefreshAfter checks that the Next under way on ch looks up after
// exactly d on clk, and returns its result.
func expectRefreshAfter(t *testing.T, clk *fakeclock.Clock, ch chan nextResult, d time.Duration) nextResult {
	t.Helper()
	require.Eventually(t, func() bool { return clk.Pending() == 1 }, 5*time.Second, time.Millisecond, "Next waits")
	clk.Advance(d - time.Millisecond)
	require.Equal(t, 1, clk.Pending(), "no lookup before %v", d)
	require.Empty(t, ch)
	clk.Advance(time.Millisecond)
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatalf("no lookup after %v", d)
		return nextResult{}
	}
}

func TestDNSRefreshFollowsTTL(t *testing.T) {
	srv := newDNSServer(t)
	const host = "orders.elb.test."
	clk := fakeclock.New(time.Unix(1_700_000_000, 0))
	s, err := NewDNS(DNS{Name: host, Port: 80, Network: "ip4", Interval: 30 * time.Second, MinInterval: 2 * time.Second, Resolver: srv.resolver(), Clock: clk})
	require.NoError(t, err)

	srv.set(host, addrRR(host, 5, "10.0.0.1"))
	u, err := s.Next(ctx) // the first lookup is at once
	require.NoError(t, err)
	assert.Equal(t, []string{"10.0.0.1:80/-@"}, described(u.Backends))
	assert.Positive(t, srv.count(dnsmessage.TypeA))

	// A TTL of 5s makes the next lookup come after 5s; it sees the change.
	srv.set(host, addrRR(host, 300, "10.0.0.1"), addrRR(host, 300, "10.0.0.2"))
	r := expectRefreshAfter(t, clk, nextAsync(s), 5*time.Second)
	require.NoError(t, r.err)
	assert.Equal(t, []string{"10.0.0.1:80/-@", "10.0.0.2:80/-@"}, described(r.u.Backends))

	// A TTL of 300s: Interval (30s) is shorter.
	srv.set(host, addrRR(host, 0, "10.0.0.1"))
	r = expectRefreshAfter(t, clk, nextAsync(s), 30*time.Second)
	require.NoError(t, r.err)

	// A TTL of 0: never sooner than MinInterval.
	srv.set(host, addrRR(host, 7, "10.0.0.1"))
	r = expectRefreshAfter(t, clk, nextAsync(s), 2*time.Second)
	require.NoError(t, r.err)

	// The TTL query fails: Interval.
	s.ttl = func(context.Context, string) (time.Duration, error) { return 0, errors.New("no answer") }
	r = expectRefreshAfter(t, clk, nextAsync(s), 7*time.Second)
	require.NoError(t, r.err)
	r = expectRefreshAfter(t, clk, nextAsync(s), 30*time.Second)
	require.NoError(t, r.err)
}

func TestDNSTTLQueryBacksOff(t *testing.T) {
	old := ttlQueryTimeout
	ttlQueryTimeout = 50 * time.Millisecond // real time: the query's deadline
	t.Cleanup(func() { ttlQueryTimeout = old })
	srv := newDNSServer(t)
	const host = "orders.elb.test."
	srv.set(host, addrRR(host, 5, "10.0.0.1"))
	srv.ignoreTTLQueries(true) // lookups answered, TTL queries not
	clk := fakeclock.New(time.Unix(1_700_000_000, 0))
	s, err := NewDNS(DNS{Name: host, Port: 80, Network: "ip4", Interval: 30 * time.Second, Resolver: srv.resolver(), Clock: clk})
	require.NoError(t, err)
	srv.watchTTL(s)

	_, err = s.Next(ctx)
	require.NoError(t, err, "the lookup succeeds without the TTL")
	require.Equal(t, 1, srv.ttlQueries())

	// The TTL query failed: the next 4 lookups skip it, on Interval.
	for i := range 4 { // as DNSSource documents
		r := expectRefreshAfter(t, clk, nextAsync(s), 30*time.Second)
		require.NoError(t, r.err)
		assert.Equal(t, 1, srv.ttlQueries(), "lookup %d after the failure sends no TTL query", i+1)
	}

	// The lookup after those tries again; answered, the TTL counts again.
	srv.ignoreTTLQueries(false)
	r := expectRefreshAfter(t, clk, nextAsync(s), 30*time.Second)
	require.NoError(t, r.err)
	assert.Equal(t, 2, srv.ttlQueries())
	r = expectRefreshAfter(t, clk, nextAsync(s), 5*time.Second)
	require.NoError(t, r.err)
	assert.Equal(t, 3, srv.ttlQueries())
}

func TestDNSTTLIncludesCNAMEs(t *testing.T) {
	srv := newDNSServer(t)
	const alias, target = "orders.elb.test.", "real.elb.test."
	srv.set(alias, cnameRR(alias, 4, target), addrRR(target, 60, "10.0.0.1"))
	srv.set(target, addrRR(target, 60, "10.0.0.1"))
	s, err := NewDNS(DNS{Name: alias, Port: 80, Resolver: srv.resolver()})
	require.NoError(t, err)
	ttl, err := s.queryTTL(ctx, alias)
	require.NoError(t, err)
	assert.Equal(t, 4*time.Second, ttl, "the alias expires first")

	srv.set("empty.elb.test.")
	_, err = s.queryTTL(ctx, "empty.elb.test.")
	assert.Error(t, err, "no records, no TTL")
	_, err = s.queryTTL(ctx, "missing.elb.test.")
	assert.Error(t, err, "NXDOMAIN, no TTL")
}

func TestDNSTTLQueryOverAStream(t *testing.T) {
	srv := newDNSServer(t)
	srv.set(srvName, srvRR(srvName, 9, 0, 1, 80, "a.elb.test."))
	// A Dial that returns a stream (as for DNS over TCP): two-byte lengths.
	res := &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		client, server := net.Pipe()
		go func() {
			defer server.Close()
			var l [2]byte
			if _, err := io.ReadFull(server, l[:]); err != nil {
				return
			}
			q := make([]byte, binary.BigEndian.Uint16(l[:]))
			if _, err := io.ReadFull(server, q); err != nil {
				return
			}
			resp := srv.answer(q, false)
			binary.BigEndian.PutUint16(l[:], uint16(len(resp)))
			_, _ = server.Write(append(l[:], resp...))
		}()
		return client, nil
	}}
	s, err := NewDNS(DNS{Name: srvName, SRV: true, Resolver: res})
	require.NoError(t, err)
	ttl, err := s.queryTTL(ctx, srvName)
	require.NoError(t, err)
	assert.Equal(t, 9*time.Second, ttl)
}

func TestDNSNotFoundKeepsTheGroup(t *testing.T) {
	srv := newDNSServer(t)
	const host = "orders.elb.test."
	srv.set(host, addrRR(host, 10, "10.0.0.1"), addrRR(host, 10, "10.0.0.2"))
	clk := fakeclock.New(time.Unix(1_700_000_000, 0))
	s, err := NewDNS(DNS{Name: host, Port: 80, Network: "ip4", Resolver: srv.resolver(), Clock: clk})
	require.NoError(t, err)
	g, errs := syncing(t, s, group.SyncConfig{Clock: clk, MinBackoff: time.Second, MaxBackoff: time.Second})
	addrs := func() []string {
		var out []string
		for _, b := range g.Backends() {
			out = append(out, b.Addr)
		}
		return out
	}
	require.Eventually(t, func() bool { return len(addrs()) == 2 }, 5*time.Second, time.Millisecond)

	for _, outage := range []string{"NXDOMAIN", "no records"} {
		if outage == "NXDOMAIN" {
			srv.drop(host)
		} else {
			srv.set(host)
		}
		require.Eventually(t, func() bool { return clk.Pending() == 1 }, 5*time.Second, time.Millisecond)
		clk.Advance(10 * time.Second) // the TTL
		select {
		case err := <-errs:
			assert.ErrorIs(t, err, ErrNoRecords, outage)
			assert.Contains(t, err.Error(), host, outage)
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no error reported", outage)
		}
		assert.Equal(t, []string{"10.0.0.1:80", "10.0.0.2:80"}, addrs(), "%s: the group keeps its members", outage)
		// Sync backs off 1s; the source then looks up at once, fails
		// again, and Sync backs off again.
		require.Eventually(t, func() bool { return clk.Pending() == 1 }, 5*time.Second, time.Millisecond)
		clk.Advance(time.Second)
		select {
		case err := <-errs:
			assert.ErrorIs(t, err, ErrNoRecords, outage)
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no retry after the backoff", outage)
		}
		srv.set(host, addrRR(host, 10, "10.0.0.1"), addrRR(host, 10, "10.0.0.2"))
		require.Eventually(t, func() bool { return clk.Pending() == 1 }, 5*time.Second, time.Millisecond)
		clk.Advance(time.Second) // back off, then look up at once
		require.Eventually(t, func() bool { return clk.Pending() == 1 }, 5*time.Second, time.Millisecond, "waiting for the TTL")
	}

	// The name comes back with other records: the group follows.
	srv.set(host, addrRR(host, 10, "10.0.0.3"))
	require.Eventually(t, func() bool { return clk.Pending() == 1 }, 5*time.Second, time.Millisecond)
	clk.Advance(10 * time.Second)
	require.Eventually(t, func() bool { return slicesEqual(addrs(), []string{"10.0.0.3:80"}) }, 5*time.Second, time.Millisecond)
	assert.Empty(t, errs)
}

// syncing runs group.Sync from src into a new group until the test ends,
// passing the errors it reports on errs.
func syncing(t *testing.T, src group.Source, cfg group.SyncConfig) (*group.Group, <-chan error) {
	t.Helper()
	g, err := group.New(group.Config{Name: "orders"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = g.Close(ctx) })
	errs := make(chan error, 10)
	cfg.OnError = func(err error) { errs <- err }
	c, cancel := context.WithCancel(ctx)
	require.NoError(t, group.Sync(c, g, src, cfg))
	t.Cleanup(cancel)
	return g, errs
}

func slicesEqual(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }

func TestDNSConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg   DNS
		field string
	}{
		{DNS{Port: 80}, "Name"},
		{DNS{Name: "orders.elb.test."}, "Port"},
		{DNS{Name: "orders.elb.test.", Port: 65536}, "Port"},
		{DNS{Name: "orders.elb.test.", Port: -1}, "Port"},
		{DNS{Name: srvName, SRV: true, Port: 80}, "Port"},
		{DNS{Name: "orders.elb.test.", SRV: true, Service: "grpc"}, "Service"},
		{DNS{Name: "orders.elb.test.", Port: 80, Service: "grpc", Proto: "tcp"}, "Service"},
		{DNS{Name: "orders.elb.test.", Port: 80, Network: "tcp"}, "Network"},
		{DNS{Name: srvName, SRV: true, Network: "ip4"}, "Network"},
		{DNS{Name: "orders.elb.test.", Port: 80, Interval: -time.Second}, "Interval"},
		{DNS{Name: "orders.elb.test.", Port: 80, MinInterval: -time.Second}, "MinInterval"},
		{DNS{Name: "orders.elb.test.", Port: 80, Interval: 30}, "Interval"}, // 30ns: meant 30s
		{DNS{Name: "orders.elb.test.", Port: 80, MinInterval: MinPollInterval - 1}, "MinInterval"},
		{DNS{Name: "orders.elb.test.", Port: 80, Interval: time.Second, MinInterval: 2 * time.Second}, "MinInterval"},
		{DNS{Name: "orders.elb.test.", Port: 80, MinInterval: time.Minute}, "MinInterval"}, // default Interval 30s
		{DNS{Name: strings.Repeat("a.", 130), Port: 80}, "Name"},
	} {
		_, err := NewDNS(tc.cfg)
		require.ErrorIs(t, err, elb.ErrInvalidConfig, "%+v", tc.cfg)
		var ce *elb.ConfigError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, tc.field, ce.Field, "%+v: %v", tc.cfg, err)
	}
}

func TestNameServerFromResolvConf(t *testing.T) {
	old := resolvConf
	t.Cleanup(func() { resolvConf = old })
	dir := t.TempDir()
	for content, want := range map[string]string{
		"# comment\nsearch elb.test\nnameserver 10.1.2.3\nnameserver 10.9.9.9\n": "10.1.2.3:53",
		"nameserver fe80::1\n":   "[fe80::1]:53",
		"nameserver not-an-ip\n": "127.0.0.1:53",
		"options ndots:5\n":      "127.0.0.1:53",
	} {
		resolvConf = filepath.Join(dir, "resolv.conf")
		require.NoError(t, os.WriteFile(resolvConf, []byte(content), 0o600))
		assert.Equal(t, want, nameServer(), content)
	}
	resolvConf = filepath.Join(dir, "missing")
	assert.Equal(t, "127.0.0.1:53", nameServer())
}

// TestDNSTTLOfLargeAnswers: answers over 512 bytes still give their TTL,
// over UDP with EDNS0 (60 A records, about 1000 bytes) or over TCP after a
// truncated UDP answer (50 SRV records, about 1600 bytes), so the next
// lookup comes after the TTL, not after Interval.
func TestDNSTTLOfLargeAnswers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     DNS
		rrs     func(ttl uint32) []dnsmessage.Resource
		overTCP bool
	}{
		{"60 A records", DNS{Name: "web.elb.test.", Port: 80}, func(ttl uint32) []dnsmessage.Resource {
			var rrs []dnsmessage.Resource
			for i := range 60 {
				rrs = append(rrs, addrRR("web.elb.test.", ttl, fmt.Sprintf("10.0.1.%d", i+1)))
			}
			return rrs
		}, false},
		{"50 SRV records", DNS{Name: srvName, SRV: true}, func(ttl uint32) []dnsmessage.Resource {
			var rrs []dnsmessage.Resource
			for i := range 50 {
				rrs = append(rrs, srvRR(srvName, ttl, 10, 10, 8080, fmt.Sprintf("backend-%02d.orders.elb.test.", i)))
			}
			return rrs
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newDNSServer(t)
			clk := fakeclock.New(time.Unix(1_700_000_000, 0))
			tc.cfg.Resolver, tc.cfg.Clock, tc.cfg.Interval = srv.resolver(), clk, 30*time.Second
			s, err := NewDNS(tc.cfg)
			require.NoError(t, err)
			srv.set(tc.cfg.Name, tc.rrs(3)...)

			ttl, err := s.queryTTL(ctx, tc.cfg.Name)
			require.NoError(t, err, "the TTL query reads a large answer")
			assert.Equal(t, 3*time.Second, ttl)
			overTCP, truncated := srv.transport()
			if tc.overTCP {
				assert.Positive(t, truncated, "the answer does not fit in 1232 bytes")
				assert.Positive(t, overTCP, "asked again over TCP")
			} else {
				assert.Zero(t, truncated, "EDNS0: the answer fits in one UDP packet")
			}

			u, err := s.Next(ctx)
			require.NoError(t, err)
			assert.Len(t, u.Backends, len(tc.rrs(0)))
			// The TTL (3s), not Interval (30s), times the next lookup.
			r := expectRefreshAfter(t, clk, nextAsync(s), 3*time.Second)
			require.NoError(t, r.err)
		})
	}
}
