// Package sticky holds session affinity ("stickiness"): sending the
// requests of one client or session to the same backend, as long as that
// backend can take them.
//
// The package imports no other elb package, so it can be used and tested on
// its own. So far it holds the load-balancer cookie codec. The other modes
// (an application cookie table mapping the application's own cookie to a
// backend, a header or gRPC metadata key, and the client's source IP), with
// their bounded TTL tables, arrive with the group's sticky support; they
// are not here yet.
//
// # Load-balancer cookie
//
// A [Codec] makes and checks the value of a cookie that binds a client to a
// backend. The value names the backend by a [Token], never by its ID or
// address, and is signed: a value that is malformed, altered, expired or
// signed with an unknown key decodes to false, and the caller balances the
// request normally and binds the client anew. Decode never returns an
// error and never trusts such a value.
//
// Each configured key K yields two subkeys, HMAC-SHA256(K, "elb sticky
// backend token v1") for tokens and HMAC-SHA256(K, "elb sticky cookie mac
// v1") for cookies, so that no key serves two purposes. A backend's token
// is the first 16 bytes of HMAC-SHA256(token subkey, backend ID): without
// the key, it cannot be turned back into the ID, nor matched against a
// guessed address. A cookie value is the unpadded URL-safe base64 (55
// characters) of 41 bytes:
//
//	version (1, one byte) | expiry (Unix seconds, 8 bytes, big endian) |
//	token (16 bytes) | MAC (16 bytes)
//
// where MAC is the first 16 bytes of HMAC-SHA256(cookie subkey, version |
// expiry | token). A 128-bit MAC leaves a forger one chance in 2^128 per
// attempt, and each attempt costs a request, so the full 32 bytes would
// only lengthen the cookie. Decoding accepts only the canonical text of the
// 41 bytes, and compares MACs in constant time.
//
// Keys rotate: the first key signs, every key verifies. Put a new key first
// and keep the old one for one TTL; cookies signed with it stay valid
// meanwhile. Since a token depends on the key, Decode returns the token
// under the key that verified the cookie; a group maps all of a backend's
// [Codec.Tokens] to it.
package sticky
