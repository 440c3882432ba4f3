package stickycookie_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb"
	"github.com/go-elb/elb/internal/stickycookie"
	"github.com/go-elb/elb/sticky"
)

var (
	keyA = bytes.Repeat([]byte{0xa1}, 32)
	keyB = []byte("0123456789abcdef0123456789abcdef-key-B")
	keyC = bytes.Repeat([]byte{0xc3}, 64)

	t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

// clock is a settable fake time source.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

func newCodec(t testing.TB, clk *clock, ttl time.Duration, keys ...[]byte) *stickycookie.Codec {
	t.Helper()
	c, err := stickycookie.NewCodec(stickycookie.CookieConfig{Keys: keys, TTL: ttl, Now: clk.Now})
	require.NoError(t, err)
	return c
}

func TestRoundTrip(t *testing.T) {
	clk := &clock{t0}
	c := newCodec(t, clk, time.Hour, keyA)
	for _, id := range []string{"", "a", "10.0.1.5:8080", "[2001:db8::1]:443", strings.Repeat("x", 1000)} {
		v := c.Encode(id)
		assert.Len(t, v, 55)
		tok, ok := c.Decode(v)
		require.True(t, ok, "id %q", id)
		assert.Equal(t, c.Token(id), tok)
		assert.Equal(t, []stickycookie.Token{c.Token(id)}, c.Tokens(id))
	}
	assert.NotEqual(t, c.Token("a"), c.Token("b"))
}

func TestExpiry(t *testing.T) {
	clk := &clock{t0}
	c := newCodec(t, clk, 30*time.Minute, keyA)
	v := c.Encode("b1")
	clk.t = t0.Add(30*time.Minute - time.Second)
	_, ok := c.Decode(v)
	assert.True(t, ok, "one second before expiry")
	clk.t = t0.Add(30 * time.Minute)
	_, ok = c.Decode(v)
	assert.False(t, ok, "at expiry")
	clk.t = t0.Add(48 * time.Hour)
	_, ok = c.Decode(v)
	assert.False(t, ok, "long expired")
}

func TestDefaultTTL(t *testing.T) {
	clk := &clock{t0}
	c := newCodec(t, clk, 0, keyA)
	v := c.Encode("b1")
	clk.t = t0.Add(sticky.DefaultTTL - time.Second)
	_, ok := c.Decode(v)
	assert.True(t, ok)
	clk.t = t0.Add(sticky.DefaultTTL)
	_, ok = c.Decode(v)
	assert.False(t, ok)
}

func TestEverySingleByteChangeRejected(t *testing.T) {
	clk := &clock{t0}
	c := newCodec(t, clk, time.Hour, keyA, keyB)
	v := c.Encode("10.0.1.5:8080")
	_, ok := c.Decode(v)
	require.True(t, ok)

	// Every byte of the decoded value, changed to every other value.
	raw, err := base64.RawURLEncoding.DecodeString(v)
	require.NoError(t, err)
	for i := range raw {
		for b := range 256 {
			if byte(b) == raw[i] {
				continue
			}
			m := bytes.Clone(raw)
			m[i] = byte(b)
			_, ok := c.Decode(base64.RawURLEncoding.EncodeToString(m))
			require.False(t, ok, "raw byte %d set to %#x", i, b)
		}
	}
	// Every character of the text, changed to every other byte.
	for i := range len(v) {
		for b := range 256 {
			if byte(b) == v[i] {
				continue
			}
			m := []byte(v)
			m[i] = byte(b)
			_, ok := c.Decode(string(m))
			require.False(t, ok, "char %d set to %#x", i, b)
		}
	}
}

func TestMalformedRejected(t *testing.T) {
	clk := &clock{t0}
	c := newCodec(t, clk, time.Hour, keyA)
	v := c.Encode("b1")
	cases := map[string]string{
		"empty":         "",
		"garbage":       "hello, world",
		"non-base64":    strings.Repeat("!", len(v)),
		"padded":        v + "=",
		"std alphabet":  strings.NewReplacer("-", "+", "_", "/").Replace(v),
		"newline":       v[:20] + "\n" + v[21:],
		"newline added": v[:20] + "\n" + v[20:],
		"spaces":        " " + v,
		"long garbage":  strings.Repeat("A", 1<<16),
	}
	for i := range len(v) {
		cases["truncated to "+strconv.Itoa(i)] = v[:i]
	}
	for _, s := range []string{"A", "AA", "AAA", "AAAA", v} {
		cases["extended by "+strconv.Itoa(len(s))] = v + s
	}
	for name, s := range cases {
		if s == v {
			continue // "std alphabet" when v has neither '-' nor '_'
		}
		_, ok := c.Decode(s)
		assert.False(t, ok, name)
	}
}

func TestOtherVersionRejected(t *testing.T) {
	// A correctly MACed value (built with the key derivation doc.go
	// documents) with an unknown version byte is refused.
	clk := &clock{t0}
	c := newCodec(t, clk, time.Hour, keyA)
	raw, err := base64.RawURLEncoding.DecodeString(c.Encode("b1"))
	require.NoError(t, err)
	raw[0] = 2
	copy(raw[25:], referenceMAC(keyA, raw[:25]))
	_, ok := c.Decode(base64.RawURLEncoding.EncodeToString(raw))
	assert.False(t, ok)
	raw[0] = 1
	copy(raw[25:], referenceMAC(keyA, raw[:25]))
	_, ok = c.Decode(base64.RawURLEncoding.EncodeToString(raw))
	assert.True(t, ok, "the reference MAC must match the codec's")
}

// referenceMAC computes the cookie MAC with crypto/hmac, as doc.go
// describes it, to check the codec's allocation-free HMAC.
func referenceMAC(key, payload []byte) []byte {
	d := hmac.New(sha256.New, key)
	d.Write([]byte("elb sticky cookie mac v1"))
	m := hmac.New(sha256.New, d.Sum(nil))
	m.Write(payload)
	return m.Sum(nil)[:16]
}

func referenceToken(key []byte, id string) stickycookie.Token {
	d := hmac.New(sha256.New, key)
	d.Write([]byte("elb sticky backend token v1"))
	m := hmac.New(sha256.New, d.Sum(nil))
	m.Write([]byte(id))
	return stickycookie.Token(m.Sum(nil)[:16])
}

func TestSchemeMatchesReference(t *testing.T) {
	clk := &clock{t0}
	c := newCodec(t, clk, 90*time.Minute, keyC)
	for _, id := range []string{"", "b1", "10.0.1.5:8080", strings.Repeat("é", 300)} {
		raw, err := base64.RawURLEncoding.DecodeString(c.Encode(id))
		require.NoError(t, err)
		require.Len(t, raw, 41)
		assert.Equal(t, byte(1), raw[0])
		assert.Equal(t, uint64(t0.Add(90*time.Minute).Unix()), binary.BigEndian.Uint64(raw[1:9]))
		tok := referenceToken(keyC, id)
		assert.Equal(t, tok[:], raw[9:25])
		assert.Equal(t, tok, c.Token(id))
		assert.Equal(t, referenceMAC(keyC, raw[:25]), raw[25:])
	}
}

func TestUnknownKeyRejected(t *testing.T) {
	clk := &clock{t0}
	signer := newCodec(t, clk, time.Hour, keyB)
	verifier := newCodec(t, clk, time.Hour, keyA, keyC)
	_, ok := verifier.Decode(signer.Encode("b1"))
	assert.False(t, ok)
}

func TestKeyRotation(t *testing.T) {
	clk := &clock{t0}
	old := newCodec(t, clk, time.Hour, keyA)
	v := old.Encode("b1")

	rotated := newCodec(t, clk, time.Hour, keyB, keyA)
	tok, ok := rotated.Decode(v)
	require.True(t, ok, "old cookie after rotation to [new, old]")
	tokens := rotated.Tokens("b1")
	assert.Equal(t, tokens[1], tok, "the token under the old key")
	assert.Equal(t, old.Token("b1"), tok)
	assert.Equal(t, rotated.Token("b1"), tokens[0])

	// New cookies are signed with the new key; the old codec rejects them.
	nv := rotated.Encode("b1")
	tok, ok = rotated.Decode(nv)
	require.True(t, ok)
	assert.Equal(t, tokens[0], tok)
	_, ok = old.Decode(nv)
	assert.False(t, ok)

	done := newCodec(t, clk, time.Hour, keyB)
	_, ok = done.Decode(v)
	assert.False(t, ok, "old cookie after the old key is dropped")
	_, ok = done.Decode(nv)
	assert.True(t, ok)
}

func TestCookieRevealsNoBackend(t *testing.T) {
	clk := &clock{t0}
	c := newCodec(t, clk, time.Hour, keyA)
	for _, id := range []string{"10.0.1.5:8080", "orders-7f9c", "[2001:db8::1]:443"} {
		for range 5 {
			v := c.Encode(id)
			raw, err := base64.RawURLEncoding.DecodeString(v)
			require.NoError(t, err)
			for _, s := range []string{v, string(raw)} {
				for i := 0; i+3 <= len(id); i++ {
					assert.NotContains(t, s, id[i:i+3], "id %q", id)
				}
			}
			clk.t = clk.t.Add(time.Second)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	secret := []byte("s3cr3t-s3cr3t-s3cr3t") // 20 bytes: too short
	cases := []struct {
		name string
		cfg  stickycookie.CookieConfig
		err  error
		want string
	}{
		{"ttl too short", stickycookie.CookieConfig{Keys: [][]byte{keyA}, TTL: 30 * time.Second}, sticky.ErrInvalidTTL, "30s"},
		{"ttl too long", stickycookie.CookieConfig{Keys: [][]byte{keyA}, TTL: 25 * time.Hour}, sticky.ErrInvalidTTL, "25h0m0s"},
		{"negative ttl", stickycookie.CookieConfig{Keys: [][]byte{keyA}, TTL: -time.Minute}, sticky.ErrInvalidTTL, "-1m0s"},
		{"no keys", stickycookie.CookieConfig{}, sticky.ErrInvalidKey, "no keys"},
		{"short key", stickycookie.CookieConfig{Keys: [][]byte{keyA, secret}}, sticky.ErrInvalidKey, "Keys[1]: has 20 bytes"},
		{"nil key", stickycookie.CookieConfig{Keys: [][]byte{nil}}, sticky.ErrInvalidKey, "Keys[0]: has 0 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := stickycookie.NewCodec(tc.cfg)
			assert.Nil(t, c)
			require.ErrorIs(t, err, tc.err)
			require.ErrorIs(t, err, elb.ErrInvalidConfig)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "s3cr3t")
			assert.NotContains(t, err.Error(), string(keyA))
		})
	}
	for _, ttl := range []time.Duration{0, time.Minute, 24 * time.Hour} {
		_, err := stickycookie.NewCodec(stickycookie.CookieConfig{Keys: [][]byte{keyA}, TTL: ttl})
		assert.NoError(t, err, "ttl %v", ttl)
	}
}

func TestKeysCopied(t *testing.T) {
	clk := &clock{t0}
	k := bytes.Clone(keyA)
	c := newCodec(t, clk, time.Hour, k)
	v := c.Encode("b1")
	for i := range k {
		k[i] = 0
	}
	_, ok := c.Decode(v)
	assert.True(t, ok, "changing the caller's key slice must not change the codec")
}

func TestDecodeAllocs(t *testing.T) {
	clk := &clock{t0}
	c := newCodec(t, clk, time.Hour, keyB, keyA)
	old := newCodec(t, clk, time.Hour, keyA)
	v, ov := c.Encode("10.0.1.5:8080"), old.Encode("10.0.1.5:8080")
	for _, s := range []string{v, ov, "garbage"} {
		allocs := testing.AllocsPerRun(100, func() { c.Decode(s) })
		assert.Zero(t, allocs, "value %q", s)
	}
}
