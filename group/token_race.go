//go:build race

package group

import "sync"

// Race builds keep spare tokens in the pool alone: see token.go.
var tokens = sync.Pool{New: func() any { return new(token) }}

func getToken() *token { return tokens.Get().(*token) }

func putToken(t *token) { tokens.Put(t) }
