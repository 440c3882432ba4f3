package sticky

import (
	"fmt"
	"time"

	"github.com/go-elb/elb"
	"github.com/go-elb/elb/internal/cfgerr"
)

// Mode is how requests are bound to a backend.
type Mode uint8

// The modes, as cloud load balancers have them.
const (
	// Cookie: the load balancer issues a signed cookie naming the backend
	// (Config.CookieName, Config.Keys), and a request that brings it back
	// goes to that backend. No state is kept: the binding travels with the
	// client.
	Cookie Mode = iota + 1
	// AppCookie: the application's own session cookie (Config.CookieName)
	// is mapped to a backend in a bounded table with an idle TTL.
	AppCookie
	// Header: the value of a request header, or of gRPC metadata
	// (Config.Header), is mapped to a backend in the same kind of table.
	Header
	// SourceIP: the client's IP picks the backend by consistent hashing:
	// no table, and the same answer in every client process.
	SourceIP
)

var modeNames = [...]string{"", "cookie", "app_cookie", "header", "source_ip"}

// String returns the mode's name, such as "app_cookie".
func (m Mode) String() string {
	if m >= Cookie && int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}

// MarshalText encodes the mode as its name.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText decodes a mode's name, such as "cookie"; any other text is
// an *elb.ConfigError for the field Mode.
func (m *Mode) UnmarshalText(b []byte) error {
	for i := Cookie; i <= SourceIP; i++ {
		if modeNames[i] == string(b) {
			*m = i
			return nil
		}
	}
	return cfgerr.New("Mode", string(b), "is not a mode (cookie, app_cookie, header or source_ip)")
}

// Defaults of Config.
const (
	// DefaultCookieName is the name of the load-balancer cookie.
	DefaultCookieName = "ELBSTICKY"
	// DefaultMaxEntries bounds a table when Config.MaxEntries is 0. An
	// entry takes about 64 bytes and its key, up to MaxTableKeyLen (1 KiB),
	// so a full table of short keys (a UUID) takes about 7 MB and the
	// worst case about 70 MB; the slot array (16 bytes an entry) is
	// allocated in full up front.
	DefaultMaxEntries = 65536
	// MaxMaxEntries is the largest Config.MaxEntries.
	MaxMaxEntries = 1 << 24
)

// Config configures session affinity for a group. The zero value of every
// field but Mode (and what Mode requires) selects the default.
type Config struct {
	// Mode is required.
	Mode Mode

	// TTL is, for Cookie, how long an issued cookie stays valid (an active
	// client's cookie is renewed before it ends); for AppCookie and Header,
	// how long a table entry lives after its last use. MinTTL (1m) to
	// MaxTTL (24h); 0 means DefaultTTL (24h).
	TTL time.Duration

	// Keys sign load-balancer cookies (Cookie mode, required): at least
	// MinKeyLen random bytes each; Keys[0] signs and every key verifies, so
	// a key is rotated by putting the new one first.
	Keys [][]byte

	// CookieName is the cookie's name: for Cookie, the load balancer's
	// own cookie (DefaultCookieName when empty: give each group its own
	// name when several serve one site, or their cookies overwrite each
	// other); for AppCookie, the application's session cookie (required).
	CookieName string

	// Header is, for Header mode (required), the request header or gRPC
	// metadata key whose value binds, such as "X-User-ID".
	Header string

	// MaxEntries bounds the table of AppCookie and Header modes, 1 to
	// MaxMaxEntries; the oldest entry makes room for a new one (one in use
	// gets a second chance: see "Bounded tables" in the package
	// documentation). 0 means DefaultMaxEntries.
	MaxEntries int
}

// Normalized returns c with defaults set, or an *elb.ConfigError (wrapping
// elb.ErrInvalidConfig, and ErrInvalidTTL or ErrInvalidKey for those
// fields) naming the first field out of range. It never shows a key's
// bytes.
func (c Config) Normalized() (Config, error) {
	if c.Mode == 0 {
		return c, cfgerr.New("Mode", nil, "is required (Cookie, AppCookie, Header or SourceIP)")
	}
	if c.Mode < Cookie || c.Mode > SourceIP {
		return c, cfgerr.New("Mode", c.Mode, "is not a mode (Cookie, AppCookie, Header or SourceIP)")
	}
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.TTL < MinTTL || c.TTL > MaxTTL {
		return c, &elb.ConfigError{Field: "TTL", Value: c.TTL, Problem: "must be 1m-24h", Err: ErrInvalidTTL}
	}
	switch c.Mode {
	case Cookie:
		if c.CookieName == "" {
			c.CookieName = DefaultCookieName
		}
		if err := checkKeys(c.Keys); err != nil {
			return c, err
		}
	case AppCookie:
		if c.CookieName == "" {
			return c, cfgerr.New("CookieName", nil, "the application's cookie name is required in AppCookie mode")
		}
	case Header:
		if c.Header == "" {
			return c, cfgerr.New("Header", nil, "a header or metadata key is required in Header mode")
		}
	}
	if c.MaxEntries == 0 {
		c.MaxEntries = DefaultMaxEntries
	}
	if c.MaxEntries < 1 || c.MaxEntries > MaxMaxEntries {
		return c, cfgerr.New("MaxEntries", c.MaxEntries, fmt.Sprintf("must be 1-%d", MaxMaxEntries))
	}
	return c, nil
}

// Table reports whether the mode keeps a table of bindings.
func (m Mode) Table() bool { return m == AppCookie || m == Header }

// checkKeys checks Config.Keys as the cookie codec needs them: at least
// one, each of at least MinKeyLen bytes. (The codec checks them again.)
func checkKeys(keys [][]byte) error {
	if len(keys) == 0 {
		return &elb.ConfigError{Field: "Keys", Problem: "no keys: at least one is required", Err: ErrInvalidKey}
	}
	for i, k := range keys {
		if len(k) < MinKeyLen {
			return &elb.ConfigError{Field: fmt.Sprintf("Keys[%d]", i),
				Problem: fmt.Sprintf("has %d bytes, want at least %d", len(k), MinKeyLen), Err: ErrInvalidKey}
		}
	}
	return nil
}
