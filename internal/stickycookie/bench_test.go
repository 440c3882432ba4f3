package stickycookie_test

import (
	"testing"
	"time"
)

func BenchmarkEncode(b *testing.B) {
	c := newCodec(b, &clock{t0}, time.Hour, keyA)
	b.ReportAllocs()
	for b.Loop() {
		c.Encode("10.0.1.5:8080")
	}
}

func BenchmarkDecode(b *testing.B) {
	clk := &clock{t0}
	c := newCodec(b, clk, time.Hour, keyB, keyA)
	old := newCodec(b, clk, time.Hour, keyA)
	for _, bc := range []struct{ name, value string }{
		{"valid", c.Encode("10.0.1.5:8080")},
		{"valid_old_key", old.Encode("10.0.1.5:8080")}, // tries both keys
		{"tampered", "A" + c.Encode("10.0.1.5:8080")[1:]},
		{"malformed", "not a cookie"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.Decode(bc.value)
			}
		})
	}
}

func BenchmarkToken(b *testing.B) {
	c := newCodec(b, &clock{t0}, time.Hour, keyA)
	b.ReportAllocs()
	for b.Loop() {
		c.Token("10.0.1.5:8080")
	}
}
