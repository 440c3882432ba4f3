package stickytable_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/go-elb/elb"
	"github.com/go-elb/elb/internal/stickytable"
	"github.com/go-elb/elb/sticky"
)

// TestTTLErrorsWrapErrInvalidTTL: a TTL out of range is ErrInvalidTTL
// wherever it is given, as well as elb.ErrInvalidConfig where a *elb.ConfigError
// reports it.
func TestTTLErrorsWrapErrInvalidTTL(t *testing.T) {
	for _, c := range []sticky.Config{
		{Mode: sticky.SourceIP, TTL: time.Second},
		{Mode: sticky.Header, Header: "X", TTL: 25 * time.Hour},
		{Mode: sticky.Cookie, Keys: [][]byte{make([]byte, sticky.MinKeyLen)}, TTL: -time.Minute},
	} {
		_, err := c.Normalized()
		assert.ErrorIs(t, err, sticky.ErrInvalidTTL, "%v", c.TTL)
		assert.ErrorIs(t, err, elb.ErrInvalidConfig, "%v", c.TTL)
		assert.ErrorContains(t, err, "TTL: "+c.TTL.String())
	}
	_, err := stickytable.NewTable[int](stickytable.TableConfig{TTL: time.Millisecond})
	assert.ErrorIs(t, err, sticky.ErrInvalidTTL)
	assert.ErrorIs(t, err, elb.ErrInvalidConfig)
}
