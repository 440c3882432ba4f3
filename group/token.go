//go:build !race

package group

import (
	"runtime"
	"sync"

	"github.com/go-elb/elb/internal/pin"
)

// spare holds one spare token per P, for the P's goroutine alone while
// pinned: a Pick takes it and its Done puts one back with two plain
// accesses, where a sync.Pool costs about four times as much. Ps beyond
// GOMAXPROCS at start, and the second spare of a P, use the pool. (The
// race detector cannot see that pinning orders the accesses, so race
// builds use the pool alone: token_race.go.)
var spare = make([]struct {
	tok *token
	_   [56]byte
}, runtime.GOMAXPROCS(0))

var tokens = sync.Pool{New: func() any { return new(token) }}

func getToken() *token {
	if p := pin.Pin(); p < len(spare) {
		s := &spare[p]
		if t := s.tok; t != nil {
			s.tok = nil
			pin.Unpin()
			return t
		}
	}
	pin.Unpin()
	return tokens.Get().(*token)
}

func putToken(t *token) {
	if p := pin.Pin(); p < len(spare) {
		s := &spare[p]
		if s.tok == nil {
			s.tok = t
			pin.Unpin()
			return
		}
	}
	pin.Unpin()
	tokens.Put(t)
}
