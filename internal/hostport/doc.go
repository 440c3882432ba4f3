// Package hostport checks backend addresses: the one rule that group and
// discovery apply to "host:port".
package hostport
