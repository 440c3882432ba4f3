package discovery

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/group"
)

// knotServer is a real DNS server, Knot DNS's knotd, on 127.0.0.1 serving
// the zone elb.test. from a file the test writes and reloads.
type knotServer struct {
	t      *testing.T
	knotc  string
	dir    string
	conf   string
	addr   string // 127.0.0.1:port, UDP and TCP
	serial int
}

// knotBinary returns the path of Debian's knot package's program name.
// Without it the test is skipped, except under CI=true, where .ci/run
// installs the package and a missing one fails the test.
func knotBinary(t *testing.T, name string) string {
	t.Helper()
	for _, p := range []string{name, "/usr/sbin/" + name} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	msg := name + " not found: `apt-get install knot` to test DNS discovery against a real DNS server"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: .ci/run must install it)")
	}
	t.Skip(msg)
	return ""
}

// startKnot starts knotd serving records (zone-file lines) in elb.test.,
// and stops it when the test ends.
func startKnot(t *testing.T, records string) *knotServer {
	t.Helper()
	knotd := knotBinary(t, "knotd")
	k := &knotServer{t: t, knotc: knotBinary(t, "knotc"), dir: t.TempDir()}
	k.conf = filepath.Join(k.dir, "knot.conf")
	k.writeZone(records)
	for try := 1; ; try++ {
		// A port free for UDP and TCP now; knotd cannot take port 0, so
		// another program may take it first: then try another.
		port := freePort(t)
		k.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		conf := fmt.Sprintf(`server:
    rundir: %q
    listen: 127.0.0.1@%d
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: warning
database:
    storage: %q
zone:
  - domain: elb.test.
    file: %q
    zonefile-load: whole
    journal-content: none
`, k.dir, port, k.dir, filepath.Join(k.dir, "elb.test.zone"))
		require.NoError(t, os.WriteFile(k.conf, []byte(conf), 0o600))
		logPath := filepath.Join(k.dir, fmt.Sprintf("knotd-%d.log", try))
		logFile, err := os.Create(logPath)
		require.NoError(t, err)
		cmd := exec.Command(knotd, "-c", k.conf)
		cmd.Stdout, cmd.Stderr = logFile, logFile
		require.NoError(t, cmd.Start())
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); logFile.Close(); close(exited) }()
		stop := func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
		}
		if k.ready(exited) {
			t.Cleanup(stop)
			return k
		}
		stop()
		log, _ := os.ReadFile(logPath)
		require.Less(t, try, 3, "knotd did not answer on %s:\n%s", k.addr, log)
	}
}

// freePort returns a port of 127.0.0.1 free for both UDP and TCP.
func freePort(t *testing.T) int {
	t.Helper()
	for try := 0; ; try++ {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		require.NoError(t, err)
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		pc.Close()
		if err == nil {
			l.Close()
			return pc.LocalAddr().(*net.UDPAddr).Port
		}
		require.Less(t, try, 20, "no port free for both UDP and TCP: %v", err)
	}
}

// ready waits, at most 10s, until the server answers for its SOA, and
// says whether it did before exiting.
func (k *knotServer) ready(exited <-chan struct{}) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		c, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		_, err := k.resolver().LookupNS(c, "elb.test.")
		cancel()
		if err == nil {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// writeZone writes elb.test.'s zone file, with a new serial, TTL 1s.
func (k *knotServer) writeZone(records string) {
	k.serial++
	zone := fmt.Sprintf("$ORIGIN elb.test.\n$TTL 1\n@ SOA ns hostmaster %d 60 60 60 1\n@ NS ns\nns A 127.0.0.1\n%s", k.serial, records)
	path := filepath.Join(k.dir, "elb.test.zone")
	require.NoError(k.t, os.WriteFile(path+".new", []byte(zone), 0o600))
	require.NoError(k.t, os.Rename(path+".new", path)) // knotd never reads half a file
}

// reload serves records instead, through `knotc zone-reload`, and returns
// once knotd has loaded them.
func (k *knotServer) reload(records string) {
	k.writeZone(records)
	out, err := exec.Command(k.knotc, "-c", k.conf, "-t", "10", "-b", "zone-reload", "elb.test.").CombinedOutput()
	require.NoError(k.t, err, "knotc zone-reload: %s", out)
}

// resolver sends every query to knotd, over the network asked for.
func (k *knotServer) resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, k.addr)
	}}
}

// knotRecords returns zone-file lines: 50 SRV records for
// _grpc._tcp.orders (an answer of about 1600 bytes, truncated over UDP)
// and 60 A records for web (about 1000 bytes: over 512, within EDNS0's
// 1232), with backend first and address first.
func knotRecords(first int) string {
	var b strings.Builder
	for i := first; i < first+50; i++ {
		fmt.Fprintf(&b, "_grpc._tcp.orders SRV 10 10 8080 backend-%02d.orders.elb.test.\n", i)
	}
	for i := first; i < first+60; i++ {
		fmt.Fprintf(&b, "web A 10.0.1.%d\n", i+1)
	}
	return b.String()
}

// TestDNSRealServer runs DNS discovery against Knot DNS: answers over 512
// bytes (50 SRV records, 60 A records) give their TTL, and a zone change
// reaches the groups after about the TTL (1s), long before Interval (1m).
func TestDNSRealServer(t *testing.T) {
	k := startKnot(t, knotRecords(0))
	srvSrc, err := NewDNS(DNS{Name: "_grpc._tcp.orders.elb.test.", SRV: true, Interval: time.Minute, Resolver: k.resolver()})
	require.NoError(t, err)
	aSrc, err := NewDNS(DNS{Name: "web.elb.test.", Port: 80, Network: "ip4", Interval: time.Minute, Resolver: k.resolver()})
	require.NoError(t, err)
	for _, s := range []*DNSSource{srvSrc, aSrc} {
		ttl, err := s.queryTTL(ctx, s.name)
		assert.NoError(t, err, "%s: the TTL query reads the large answer", s.name)
		assert.Equal(t, time.Second, ttl, s.name)
	}

	srvGroup, srvErrs := syncing(t, srvSrc, group.SyncConfig{})
	aGroup, aErrs := syncing(t, aSrc, group.SyncConfig{})
	has := func(g *group.Group, n int, addr string) bool {
		bs := g.Backends()
		if len(bs) != n {
			return false
		}
		for _, b := range bs {
			if b.Addr == addr {
				return true
			}
		}
		return false
	}
	require.Eventually(t, func() bool {
		return has(srvGroup, 50, "backend-00.orders.elb.test:8080") && has(aGroup, 60, "10.0.1.1:80")
	}, 10*time.Second, 10*time.Millisecond, "the groups fill")

	// One backend leaves and another comes, in both names.
	k.reload(knotRecords(1))
	start := time.Now()
	require.Eventually(t, func() bool {
		return has(srvGroup, 50, "backend-50.orders.elb.test:8080") && has(aGroup, 60, "10.0.1.61:80")
	}, 10*time.Second, 10*time.Millisecond, "the change reaches the groups after the TTL (1s), not after Interval (1m)")
	t.Logf("the change reached both groups %v after the reload (TTL 1s)", time.Since(start).Round(time.Millisecond))
	assert.False(t, has(srvGroup, 50, "backend-00.orders.elb.test:8080"))
	assert.False(t, has(aGroup, 60, "10.0.1.1:80"))
	assert.Empty(t, srvErrs)
	assert.Empty(t, aErrs)
}
