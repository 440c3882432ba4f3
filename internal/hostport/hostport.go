package hostport

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
)

// Check returns what is wrong with addr, or "" if it is a valid
// backend address: "host:port" as Backend.Addr documents it, or, with
// opaque, any non-empty text without control characters or white space at
// either end.
func Check(addr string, opaque bool) string {
	if addr == "" {
		return "empty address"
	}
	if opaque {
		if i := strings.IndexFunc(addr, unicode.IsControl); i >= 0 {
			return fmt.Sprintf("%q has a control character at byte %d", addr, i)
		}
		if strings.TrimSpace(addr) != addr {
			return fmt.Sprintf("%q begins or ends with white space", addr)
		}
		return ""
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("%q is not host:port", addr)
	}
	if host == "" {
		return fmt.Sprintf("%q has no host", addr)
	}
	if !validPort(port) {
		return fmt.Sprintf("%q has port %q, want 1-65535 without leading zeros", addr, port)
	}
	bracketed := addr[0] == '['
	ip, err := netip.ParseAddr(host)
	switch {
	case bracketed && (err != nil || !ip.Is6()):
		return fmt.Sprintf("%q has %q in brackets, which are for an IPv6 address only", addr, host)
	case bracketed && ip.Zone() != "" && !validZone(ip.Zone()):
		return fmt.Sprintf("%q has IPv6 zone %q, want an interface name or number (letters, digits, '-', '.', '_'; at most %d bytes)", addr, ip.Zone(), maxLabel)
	case err == nil: // an IPv4 address: an IPv6 one needs brackets
		return ""
	}
	if problem := checkName(host); problem != "" {
		return fmt.Sprintf("%q has host %q, which is not an IP address or a DNS name: %s", addr, host, problem)
	}
	return ""
}

// Limits of a DNS name in text form (RFC 1035 2.3.4).
const (
	maxLabel = 63  // bytes of a label
	maxName  = 253 // bytes of a name without the root's trailing dot
)

// checkName returns what is wrong with host as a DNS name, or "". The rules
// are those of RFC 1123 host names as Go's own resolver applies them
// (net's isDomainName: a name refused here is one it would not look up,
// the root "." aside): labels of 1-63 letters, digits, '-' and '_', not
// beginning or ending with '-'; at most 253 bytes, not counting one
// trailing dot (a fully qualified name, accepted); and not all digits and
// dots, which would be a malformed IPv4 address such as "010.0.0.1" or
// "1.2.3". '_' is allowed anywhere in a label, as Go's resolver allows it:
// real host names have it (container names such as "shop_web_1"), and SRV
// owner names begin labels with it. Non-ASCII names must be given in their
// ASCII ("xn--") form.
func checkName(host string) string {
	name := strings.TrimSuffix(host, ".")
	if len(name) > maxName {
		return fmt.Sprintf("%d bytes, more than %d", len(name), maxName)
	}
	nonNumeric := false
	for label := range strings.SplitSeq(name, ".") {
		switch {
		case label == "":
			return "empty label"
		case len(label) > maxLabel:
			return fmt.Sprintf("label %q has %d bytes, more than %d", label, len(label), maxLabel)
		case label[0] == '-' || label[len(label)-1] == '-':
			return fmt.Sprintf("label %q begins or ends with '-'", label)
		}
		for i := 0; i < len(label); i++ {
			switch c := label[i]; {
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_', c == '-':
				nonNumeric = true
			case '0' <= c && c <= '9':
			default:
				return fmt.Sprintf("byte %q is not a letter, digit, '-' or '_'", c)
			}
		}
	}
	if !nonNumeric {
		return "all digits and dots, but not an IPv4 address (no leading zeros, four fields 0-255)"
	}
	return ""
}

// validPort reports whether port is a decimal number 1-65535 written
// without a sign or leading zeros.
func validPort(port string) bool {
	if port == "" || port[0] == '0' || len(port) > 5 {
		return false
	}
	p, err := strconv.ParseUint(port, 10, 16)
	return err == nil && p > 0
}

// validZone reports whether zone can be an IPv6 zone: an interface name
// (eth0, en0.100, wl_0) or number.
func validZone(zone string) bool {
	if len(zone) > maxLabel {
		return false
	}
	for i := 0; i < len(zone); i++ {
		c := zone[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}
