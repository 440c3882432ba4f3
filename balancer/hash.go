package balancer

import (
	"encoding/binary"
	"net/netip"
	"strings"

	"github.com/go-elb/elb/internal/hash64"
)

const (
	// Seeds of the hashes of endpoint IDs (Maglev offset and skip) and of
	// source addresses. Keys use seed 0: plain FNV-1a.
	seedOffset = 0x9e3779b97f4a7c15
	seedSkip   = 0xc2b2ae3d27d4eb4f
	seedAddr   = 0x165667b19e3779f9
)

// hashSource hashes the IP address in src, "ip" or "ip:port", so that
// every textual form of one address hashes alike: the port and any IPv6
// zone are ignored, IPv4 and IPv4-mapped IPv6 forms are one address. A src
// that is not an IP address is hashed as a string.
func hashSource(src string) uint64 {
	if v4, ok := ipv4Source(src); ok { // the common case, in one pass
		return hash64.Mix(hash64.Mix(seedAddr) ^ (0xffff<<32 | uint64(v4)))
	}
	host := sourceHost(src)
	var hi, lo uint64
	if v4, ok := parseIPv4(host); ok {
		// The 16-byte form of an IPv4 address, as netip's As16: ::ffff:a.b.c.d.
		lo = 0xffff<<32 | uint64(v4)
	} else if validIP(host) {
		addr, err := netip.ParseAddr(host)
		if err != nil { // cannot happen: validIP checked
			return hash64.String(src, 0)
		}
		b := addr.As16()
		hi, lo = binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	} else {
		return hash64.String(src, 0)
	}
	return hash64.Mix(hash64.Mix(hi^seedAddr) ^ lo)
}

// ipv4Source parses src as "a.b.c.d" or "a.b.c.d:port" (a port with no
// further colon) in one pass, as sourceHost and parseIPv4 together would.
// It reports false for anything else, which the slow path then handles.
func ipv4Source(src string) (uint32, bool) {
	var v, val uint32
	dots, digits, i := 0, 0, 0
	for ; i < len(src); i++ {
		c := src[i]
		switch {
		case c-'0' <= 9:
			if digits == 1 && val == 0 {
				return 0, false // a leading zero
			}
			val = val*10 + uint32(c-'0')
			digits++
			if val > 255 {
				return 0, false
			}
			continue
		case c == '.':
			if digits == 0 || dots == 3 {
				return 0, false
			}
			dots++
			v, val, digits = v<<8|val, 0, 0
			continue
		case c != ':':
			return 0, false
		}
		break
	}
	if dots != 3 || digits == 0 {
		return 0, false
	}
	for j := i + 1; j < len(src); j++ {
		if src[j] == ':' {
			return 0, false // not "ipv4:port"
		}
	}
	return v<<8 | val, true
}

// sourceHost returns the address part of "ip", "ip:port", "[ipv6]:port"
// or "ipv6", without any "%zone", as a substring of src: no allocation.
// (netip.ParseAddrPort would validate the port as well, but its error
// for a plain "ip" is an allocation on every pick.)
func sourceHost(src string) string {
	host := src
	if strings.HasPrefix(src, "[") {
		if end := strings.IndexByte(src, ']'); end > 0 {
			host = src[1:end]
		}
	} else if i := strings.IndexByte(src, ':'); i >= 0 && strings.IndexByte(src[i+1:], ':') < 0 {
		host = src[:i] // exactly one colon: "ipv4:port"
	}
	if i := strings.IndexByte(host, '%'); i >= 0 {
		host = host[:i]
	}
	return host
}

// validIP reports whether netip.ParseAddr accepts s, which has no zone,
// without calling it: its error for a malformed address would be an
// allocation on every pick. It follows netip's grammar exactly (a test
// checks the two agree).
func validIP(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '.':
			return validIPv4(s)
		case ':':
			return validIPv6(s)
		}
	}
	return false
}

// validIPv4 reports whether s is a dotted quad: four decimal fields of at
// most 255 without leading zeros.
func validIPv4(s string) bool {
	_, ok := parseIPv4(s)
	return ok
}

// parseIPv4 parses a dotted quad as netip.ParseAddr does.
func parseIPv4(s string) (v uint32, ok bool) {
	val, dots, digits := uint32(0), 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9':
			if digits == 1 && val == 0 {
				return 0, false
			}
			val = val*10 + uint32(c-'0')
			digits++
			if val > 255 {
				return 0, false
			}
		case c == '.':
			if i == 0 || i == len(s)-1 || s[i-1] == '.' || dots == 3 {
				return 0, false
			}
			dots++
			v = v<<8 | val
			val, digits = 0, 0
		default:
			return 0, false
		}
	}
	if dots != 3 {
		return 0, false
	}
	return v<<8 | val, true
}

// validIPv6 reports whether s is IPv6 text: groups of 1 to 4 hex digits,
// at most one "::" standing for at least one group, optionally ending in a
// dotted quad.
func validIPv6(s string) bool {
	ellipsis := -1 // byte offset of the "::"
	if len(s) >= 2 && s[0] == ':' && s[1] == ':' {
		ellipsis = 0
		if s = s[2:]; s == "" {
			return true
		}
	}
	i := 0 // bytes of address parsed
	for i < 16 {
		off := 0
		for off < len(s) && isHex(s[off]) {
			if off++; off > 4 {
				return false
			}
		}
		if off == 0 {
			return false
		}
		if off < len(s) && s[off] == '.' {
			if ellipsis < 0 && i != 12 || i+4 > 16 || !validIPv4(s) {
				return false
			}
			s, i = "", i+4
			break
		}
		i += 2
		if s = s[off:]; s == "" {
			break
		}
		if s[0] != ':' || len(s) == 1 {
			return false
		}
		s = s[1:]
		if s[0] == ':' {
			if ellipsis >= 0 {
				return false
			}
			ellipsis = i
			if s = s[1:]; s == "" {
				break
			}
		}
	}
	if s != "" {
		return false
	}
	if i < 16 {
		return ellipsis >= 0
	}
	return ellipsis < 0
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
