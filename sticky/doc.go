// Package sticky holds session affinity ("stickiness"): sending the
// requests of one client or session to the same backend, as long as that
// backend can take them.
//
// The package imports no other elb package but the root one (its
// configuration error, elb.ConfigError), so it can be used and tested on
// its own; the group package wires it in (group.Config.Sticky,
// group.Request.Affinity, group.Pick.Cookie).
//
// # Modes
//
// A Config selects one of four modes, as cloud load balancers have them:
//
//   - Cookie: the load balancer issues a signed cookie that names the
//     backend by an opaque token (below). No state is kept.
//   - AppCookie: the application's own session cookie, by name, is mapped
//     to a backend in a bounded table.
//   - Header: the value of a request header or gRPC metadata key is
//     mapped to a backend in a bounded table.
//   - SourceIP: the client's IP picks the backend by consistent hashing;
//     no table, and every client process agrees.
//
// Cookie lifetimes and table TTLs run from 1 minute to 24 hours. A binding
// whose backend cannot take a request (unhealthy, ejected, draining,
// weight 0 or gone) is not an error: the request is balanced normally and
// the binding moves to the backend it got. Every value a client sends is
// untrusted: a malformed, forged or expired cookie is ignored, never
// trusted and never reported to the caller.
//
// # Bounded tables
//
// A group's binding table holds at most Config.MaxEntries bindings and evicts the oldest to make
// room (an entry in use gets a second chance, so a flood of new keys evicts
// its own keys before active sessions), so a flood of new keys cannot grow
// memory past the bound. An entry
// expires TTL after its last use; expired entries are swept now and then, with no goroutine per entry. Lookups
// take no lock and allocate nothing.
//
// # Load-balancer cookie
//
// The group makes and checks the value of a cookie that binds a client to a
// backend. The value names the backend by a token, never by its ID or
// address, and is signed: a value that is malformed, altered, expired or
// signed with an unknown key is ignored: the request is balanced normally
// and the client bound anew. Such a value is never an error and never
// trusted.
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
// meanwhile. Since a token depends on the key, a group knows each backend
// by one token per key.
package sticky
