package stickycookie

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"
	"unsafe"

	"github.com/go-elb/elb"
	"github.com/go-elb/elb/sticky"
)

// The cookie layout; doc.go describes it.
const (
	version  = 1
	tokenLen = 16
	macLen   = 16
	blockLen = sha256.BlockSize

	payloadLen = 1 + 8 + tokenLen    // version | expiry | token
	rawLen     = payloadLen + macLen // 41 bytes
)

// valueLen is the length of every cookie value: base64 of rawLen bytes.
const valueLen = (rawLen*8 + 5) / 6

var encoding = base64.RawURLEncoding.Strict()

// CookieConfig configures a Codec.
type CookieConfig struct {
	// Keys sign and verify cookies: Keys[0] signs, every key verifies. To
	// rotate, put the new key first and keep the old one until the cookies
	// it signed have expired. Each key has at least MinKeyLen bytes and
	// should be random.
	Keys [][]byte
	// TTL is how long a cookie stays valid: MinTTL to MaxTTL, 0 = DefaultTTL.
	TTL time.Duration
	// Now returns the current time; nil means time.Now. Tests inject a fake.
	Now func() time.Time
}

// A Token stands for a backend in a cookie: a keyed hash of its ID that
// reveals neither the ID nor the address. Tokens are comparable and can be
// map keys.
type Token [tokenLen]byte

// A Codec encodes and decodes load-balancer cookie values. It is safe for
// concurrent use.
type Codec struct {
	keys []derivedKey // keys[0] signs
	ttl  time.Duration
	now  func() time.Time
}

// NewCodec returns a Codec for cfg, or an *elb.ConfigError wrapping
// ErrInvalidTTL or ErrInvalidKey.
func NewCodec(cfg CookieConfig) (*Codec, error) {
	ttl := cfg.TTL
	if ttl == 0 {
		ttl = sticky.DefaultTTL
	}
	if ttl < sticky.MinTTL || ttl > sticky.MaxTTL {
		return nil, &elb.ConfigError{Field: "TTL", Value: cfg.TTL, Problem: "must be 1m-24h", Err: sticky.ErrInvalidTTL}
	}
	if len(cfg.Keys) == 0 {
		return nil, &elb.ConfigError{Field: "Keys", Problem: "no keys: at least one is required", Err: sticky.ErrInvalidKey}
	}
	c := &Codec{keys: make([]derivedKey, len(cfg.Keys)), ttl: ttl, now: cfg.Now}
	for i, k := range cfg.Keys {
		if len(k) < sticky.MinKeyLen {
			return nil, &elb.ConfigError{Field: fmt.Sprintf("Keys[%d]", i),
				Problem: fmt.Sprintf("has %d bytes, want at least %d", len(k), sticky.MinKeyLen), Err: sticky.ErrInvalidKey}
		}
		c.keys[i] = deriveKey(k)
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// Token returns backendID's token under the signing key (Keys[0]): the
// token that Encode puts in its cookie.
func (c *Codec) Token(backendID string) Token {
	return c.keys[0].backendToken(backendID)
}

// Tokens returns backendID's tokens under every key, in Keys order. Decode
// returns the token under the key that verified the cookie, so map each of
// them to the backend: then a cookie signed before a key rotation still
// finds its backend.
func (c *Codec) Tokens(backendID string) []Token {
	ts := make([]Token, len(c.keys))
	for i := range c.keys {
		ts[i] = c.keys[i].backendToken(backendID)
	}
	return ts
}

func (d *derivedKey) backendToken(backendID string) Token {
	sum := d.token.sum(backendID)
	return Token(sum[:tokenLen])
}

// Encode returns a cookie value that binds to backendID until the TTL ends.
// The value is 55 URL-safe base64 characters and does not reveal backendID.
func (c *Codec) Encode(backendID string) string { return *c.EncodeRef(backendID) }

// EncodeRef is Encode returning a pointer to the value, in one allocation
// with the value's bytes.
func (c *Codec) EncodeRef(backendID string) *string {
	v := new(struct {
		s    string
		text [valueLen]byte
	})
	var raw [rawLen]byte
	raw[0] = version
	binary.BigEndian.PutUint64(raw[1:9], uint64(c.now().Add(c.ttl).Unix()))
	t := c.Token(backendID)
	copy(raw[9:payloadLen], t[:])
	mac := c.keys[0].mac.sum(string(raw[:payloadLen]))
	copy(raw[payloadLen:], mac[:macLen])
	encoding.Encode(v.text[:], raw[:])
	v.s = unsafe.String(&v.text[0], valueLen) // the bytes never change
	return &v.s
}

// Decode returns the backend token that value carries, and true, if a key
// of the Codec signed value and it has not expired. It returns false for
// anything else: malformed, expired, altered or signed with an unknown key.
// Such a cookie is to be ignored, not reported.
func (c *Codec) Decode(value string) (Token, bool) {
	t, _, ok := c.Verify(value)
	return t, ok
}

// Verify is Decode that also says whether the cookie should be renewed:
// it was signed with a key other than the first (a rotated-out key), or
// more than half of its TTL has passed. Renewing it (Encode, sent with the
// response) keeps an active client bound across key rotations and past
// the TTL of its first cookie.
func (c *Codec) Verify(value string) (t Token, renew, ok bool) {
	var raw [rawLen]byte
	if len(value) != valueLen || !decode(&raw, value) || raw[0] != version {
		return Token{}, false, false
	}
	for i := range c.keys {
		mac := c.keys[i].mac.sum(string(raw[:payloadLen]))
		if hmac.Equal(mac[:macLen], raw[payloadLen:]) {
			left := int64(binary.BigEndian.Uint64(raw[1:9])) - c.now().Unix()
			if left <= 0 {
				return Token{}, false, false // expired
			}
			renew = i > 0 || left < int64(c.ttl/time.Second)/2
			return Token(raw[9:payloadLen]), renew, true
		}
	}
	return Token{}, false, false
}

// decode decodes the canonical base64 value (its length already checked)
// into raw, reporting whether value was valid.
func decode(raw *[rawLen]byte, value string) bool {
	n, err := encoding.Decode(raw[:], []byte(value))
	return err == nil && n == rawLen
}

// derivedKey holds the two subkeys derived from one configured key, so that
// a backend token and a cookie MAC never use the same key.
type derivedKey struct {
	token, mac hmacKey
}

// hmacKey is an HMAC-SHA256 key of at most one block, XORed with the inner
// and outer pads (RFC 2104).
type hmacKey struct {
	ipad, opad [blockLen]byte
}

func deriveKey(k []byte) derivedKey {
	return derivedKey{
		token: subkey(k, "elb sticky backend token v1"),
		mac:   subkey(k, "elb sticky cookie mac v1"),
	}
}

// subkey returns the key HMAC-SHA256(k, label), ready for use.
func subkey(k []byte, label string) hmacKey {
	m := hmac.New(sha256.New, k)
	m.Write([]byte(label))
	var h hmacKey
	copy(h.ipad[:], m.Sum(nil)) // 32 bytes, zero-padded to a block
	h.opad = h.ipad
	for i := range blockLen {
		h.ipad[i] ^= 0x36
		h.opad[i] ^= 0x5c
	}
	return h
}

// sum returns HMAC-SHA256(h, msg), computed as RFC 2104 defines it with
// sha256.Sum256, so that it allocates nothing unless msg is long.
func (h *hmacKey) sum(msg string) [sha256.Size]byte {
	var stack [blockLen + maxStackMsg]byte
	var in []byte
	if n := blockLen + len(msg); n <= len(stack) {
		in = stack[:n]
	} else {
		in = make([]byte, n)
	}
	copy(in, h.ipad[:])
	copy(in[blockLen:], msg)
	inner := sha256.Sum256(in)
	var out [blockLen + sha256.Size]byte
	copy(out[:], h.opad[:])
	copy(out[blockLen:], inner[:])
	return sha256.Sum256(out[:])
}

// maxStackMsg is the longest message sum hashes without allocating.
const maxStackMsg = 192
