package group_test

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/group"
)

// label returns a DNS label of n bytes.
func label(n int) string { return strings.Repeat("a", n) }

// name returns a DNS name of exactly n bytes (n >= 1): labels of 63 bytes
// and a shorter last one.
func name(n int) string {
	var labels []string
	for n > 0 {
		l := min(n, 63)
		if n-l == 1 { // a dot would be the last byte: shorten this label
			l--
		}
		labels = append(labels, label(l))
		n -= l + 1
	}
	return strings.Join(labels, ".")
}

// addrCases are the addresses Backend.Addr must accept (true) and refuse.
var addrCases = []struct {
	addr string
	ok   bool
}{
	// IPv4
	{"10.0.0.1:80", true},
	{"0.0.0.0:1", true},
	{"255.255.255.255:65535", true},
	{" 10.0.0.1:80", false},
	{"10.0.0.1 :80", false},
	{"10.0.0.1: 80", false},
	{"10.0.0.1:80 ", false},
	{"10.0.0.1:80\n", false},
	{"\t10.0.0.1:80", false},
	{"010.0.0.1:80", false}, // leading zero: octal to some parsers
	{"10.0.0.256:80", false},
	{"10.0.1:80", false},
	{"1.2.3.4.5:80", false},
	{"[10.0.0.1]:80", false}, // brackets are for IPv6
	{"10.0.0.1%eth0:80", false},
	// ports
	{"h:1", true},
	{"h:65535", true},
	{"h:0", false},
	{"h:65536", false},
	{"h:99999", false},
	{"h:080", false}, // leading zero: "h:80" spelled another way
	{"h:00080", false},
	{"h:+80", false},
	{"h:-1", false},
	{"h:", false},
	{"h", false},
	{"h:http", false},
	{"h:8_0", false},
	// IPv6
	{"[2001:db8::1]:80", true},
	{"[2001:0db8:0:0:0:0:0:1]:80", true},
	{"[::1]:443", true},
	{"[::]:80", true},
	{"[::ffff:10.0.0.1]:80", true},
	{"[fe80::1%eth0]:80", true},
	{"[fe80::1%25]:80", true},
	{"[fe80::1%en0.100]:80", true},
	{"[fe80::1%]:80", false},
	{"[fe80::1% eth0]:80", false},
	{"[fe80::1%eth0\x00]:80", false},
	{"[fe80::1%eth/0]:80", false},
	{"[fe80::1%" + label(64) + "]:80", false},
	{"2001:db8::1:80", false}, // no brackets
	{"[2001:db8::1]80", false},
	{"[2001:db8::g]:80", false},
	{"[ 2001:db8::1]:80", false},
	{"[db.internal]:80", false},
	{"[]:80", false},
	{"[[::1]]:80", false},
	// DNS names
	{"db.internal:5432", true},
	{"localhost:8080", true},
	{"DB.Internal:5432", true},
	{"db.internal.:5432", true}, // fully qualified
	{"a:80", true},
	{"1a:80", true},
	{"a-b.c-d:80", true},
	{"xn--bcher-kva.example:80", true},
	{"shop_web_1:80", true}, // as Go's resolver and container names have it
	{"_http._tcp.example.com:80", true},
	{"123:80", false}, // all digits: not an IPv4 address either
	{"1.2.3:80", false},
	{"bad host:80", false},
	{"host\t:80", false},
	{"host\x00:80", false},
	{"host\x7f:80", false},
	{"hö.st:80", false}, // non-ASCII: give the xn-- form
	{"-a.b:80", false},
	{"a-.b:80", false},
	{"a..b:80", false},
	{".a:80", false},
	{"a..:80", false},
	{".:80", false},
	{":80", false},
	{"a/b:80", false},
	{"a@b:80", false},
	{"a*b:80", false},
	{"a%b:80", false},
	{"a[b]:80", false},
	{"", false},
	{label(63) + ".com:80", true},
	{label(64) + ".com:80", false},
	{name(253) + ":80", true},
	{name(253) + ".:80", true}, // the root's dot does not count
	{name(254) + ":80", false},
	{name(254) + ".:80", false},
}

func TestBackendAddrIsStrict(t *testing.T) {
	require.Len(t, name(253), 253)
	require.Len(t, name(254), 254)
	for _, c := range addrCases {
		t.Run(strconv.Quote(c.addr), func(t *testing.T) {
			g, _ := newGroup(t, group.Config{Name: "strict"})
			assert.Equal(t, c.ok, accepts(t, g, c.addr), "Update agrees with Add")
			err := g.Add(group.Backend{ID: "b", Addr: c.addr})
			if c.ok {
				require.NoError(t, err)
				assert.Equal(t, c.addr, g.Backends()[0].Addr, "kept as given")
				return
			}
			require.ErrorIs(t, err, group.ErrInvalidAddress)
			var be *group.BackendError
			require.ErrorAs(t, err, &be)
			assert.Equal(t, "b", be.ID)
			if c.addr != "" {
				assert.Contains(t, err.Error(), strconv.Quote(c.addr), "names the value")
			}
			assert.Empty(t, g.Backends())
		})
	}
}

// TestOpaqueAddrs: in a group that awaits readiness (the gRPC policy's channel groups) an address is
// whatever the adapter dials, but never empty, and never with control
// characters or white space at either end.
func TestOpaqueAddrs(t *testing.T) {
	g, _ := newGroup(t, group.AwaitReady(group.Config{}))
	for _, a := range []string{"10.0.0.1:80", "unix:///run/orders.sock", "/run/my orders.sock", "bufnet", "passthrough:///h:80", "ünïcode"} {
		assert.True(t, accepts(t, g, a), "%q", a)
	}
	for _, a := range []string{"", " bufnet", "bufnet ", "buf\x00net", "buf\nnet", "bufnet\t", "buf\u0085net"} {
		assert.False(t, accepts(t, g, a), "%q", a)
	}
	err := g.Add(group.Backend{Addr: "buf\x00net"})
	require.ErrorIs(t, err, group.ErrInvalidAddress)
	assert.Contains(t, err.Error(), `"buf\x00net"`)
}

// accepts reports whether g takes addr as a backend address, without
// changing g: Update validates its argument before it looks the ID up.
func accepts(t testing.TB, g *group.Group, addr string) bool {
	err := g.Update(group.Backend{ID: "not-a-member", Addr: addr})
	switch {
	case errors.Is(err, group.ErrUnknownBackend):
		return true
	case errors.Is(err, group.ErrInvalidAddress):
		var be *group.BackendError
		if !errors.As(err, &be) {
			t.Fatalf("%q: %v is not a *BackendError", addr, err)
		}
		if addr != "" && !strings.Contains(err.Error(), strconv.Quote(addr)) {
			t.Fatalf("%q: error %q does not name the address", addr, err)
		}
		return false
	}
	t.Fatalf("%q: unexpected error %v", addr, err)
	return false
}

// FuzzBackendAddr: no address makes the group panic; an address it
// accepts is host:port that net.SplitHostPort and net.JoinHostPort give
// back unchanged, a port 1-65535 and nothing but printable ASCII. What it
// accepts as host:port it accepts as an opaque address too.
func FuzzBackendAddr(f *testing.F) {
	for _, c := range addrCases {
		f.Add(c.addr)
	}
	strict, _ := newGroup(f, group.Config{Name: "strict"})
	opaque, _ := newGroup(f, group.AwaitReady(group.Config{Name: "opaque"}))
	f.Fuzz(func(t *testing.T, addr string) {
		ok := accepts(t, strict, addr)
		okOpaque := accepts(t, opaque, addr)
		if okOpaque && (addr == "" || strings.IndexFunc(addr, unicode.IsControl) >= 0 || strings.TrimSpace(addr) != addr) {
			t.Fatalf("opaque %q accepted", addr)
		}
		if !ok {
			return
		}
		if !okOpaque {
			t.Fatalf("%q accepted as host:port but not as an opaque address", addr)
		}
		for i := 0; i < len(addr); i++ {
			if addr[i] <= ' ' || addr[i] >= 0x7f {
				t.Fatalf("%q accepted with byte %q", addr, addr[i])
			}
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host == "" {
			t.Fatalf("%q accepted: SplitHostPort gives %q, %v", addr, host, err)
		}
		if back := net.JoinHostPort(host, port); back != addr {
			t.Fatalf("%q accepted: SplitHostPort and JoinHostPort give %q", addr, back)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 || strconv.Itoa(p) != port {
			t.Fatalf("%q accepted with port %q", addr, port)
		}
	})
}
