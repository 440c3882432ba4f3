package balancer

import (
	"testing"

	"github.com/go-elb/elb/internal/hash64"
)

// TestIPv4SourceAgreesWithTheSlowPath checks the one-pass IPv4 parser
// against sourceHost and parseIPv4 on good and bad inputs.
func TestIPv4SourceAgreesWithTheSlowPath(t *testing.T) {
	for _, s := range []string{
		"1.2.3.4", "1.2.3.4:80", "255.255.255.255:65535", "0.0.0.0", "10.0.0.1:", "10.0.0.1:x",
		"01.2.3.4", "1.2.3", "1.2.3.4.5", "1..2.3", ".1.2.3", "1.2.3.", "256.1.1.1", "1.2.3.4:80:90",
		"1.2.3.4%eth0", "1.2.3.4%eth0:80", "[1.2.3.4]:80", "::1", "[::1]:80", "", ":", "a.b.c.d", "1.2.3.4 ",
	} {
		v, ok := ipv4Source(s)
		want, wantOK := parseIPv4(sourceHost(s))
		if ok && (!wantOK || v != want) {
			t.Errorf("ipv4Source(%q) = %v, %v; the slow path says %v, %v", s, v, ok, want, wantOK)
		}
		if !ok && wantOK && hashSource(s) != hash64.Mix(hash64.Mix(seedAddr)^(0xffff<<32|uint64(want))) {
			t.Errorf("%q: the slow path hashes it differently", s)
		}
	}
}
