package stickycookie_test

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/go-elb/elb/internal/stickycookie"
)

// FuzzDecode checks that Decode never panics and accepts only values that
// the test signed, each with the token it was signed for. Each input is
// tried as a cookie value and, so that the fuzzer also explores the bytes
// under the base64, as the raw bytes of one.
func FuzzDecode(f *testing.F) {
	clk := &clock{t0}
	oldC := newCodec(f, clk, time.Hour, keyA)
	newC := newCodec(f, clk, time.Hour, keyB)
	c := newCodec(f, clk, time.Hour, keyB, keyA) // verifies both
	foreign := newCodec(f, clk, time.Hour, keyC)

	signed := map[string]stickycookie.Token{} // every value a key of c signed
	for _, id := range []string{"", "b1", "10.0.1.5:8080", "[2001:db8::1]:443"} {
		for _, s := range []*stickycookie.Codec{oldC, newC} {
			v := s.Encode(id)
			signed[v] = s.Token(id)
			f.Add(v)
		}
		f.Add(foreign.Encode(id))
	}
	clk.t = t0.Add(-2 * time.Hour)
	expired := newC.Encode("b1") // expired at t0 - 1h
	clk.t = t0
	f.Add(expired)
	valid := newC.Encode("b1")
	f.Add(valid[:len(valid)-1])
	f.Add(valid + "A")
	f.Add("x" + valid[1:])
	f.Add("")
	f.Add("garbage")
	f.Add(string(make([]byte, 41)))

	f.Fuzz(func(t *testing.T, value string) {
		for _, v := range []string{value, base64.RawURLEncoding.EncodeToString([]byte(value))} {
			tok, ok := c.Decode(v)
			if !ok {
				if tok != (stickycookie.Token{}) {
					t.Fatalf("Decode(%q) rejected the value but returned a token", v)
				}
				continue
			}
			want, isSigned := signed[v]
			if !isSigned {
				t.Fatalf("Decode accepted %q, a value the test did not sign", v)
			}
			if tok != want {
				t.Fatalf("Decode(%q) = %x, want %x", v, tok, want)
			}
		}
	})
}
