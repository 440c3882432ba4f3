package grpcgroup

import (
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/go-elb/elb/balancer"
	"github.com/go-elb/elb/internal/backoff"
)

// pushbackKey is the trailer in which a server asks a client to hold off
// (gRFC A6: "grpc-retry-pushback-ms", a non-negative count of
// milliseconds).
const pushbackKey = "grpc-retry-pushback-ms"

// MaxPushback is the longest grpc-retry-pushback-ms the policy honours: a
// longer one benches its server for MaxPushback (balancer.MaxBench, 1
// minute).
const MaxPushback = balancer.MaxBench

// pushback returns how long a call's trailer asks that its server get no
// new calls: the first grpc-retry-pushback-ms value, if it is decimal
// digits, capped at MaxPushback; 0 for none, a negative value (gRFC A6's
// "do not retry", which says nothing of when to come back) or garbage.
// The trailer comes from the server: any value is possible.
func pushback(trailer metadata.MD) time.Duration {
	v := trailer[pushbackKey] // the keys of received metadata are lower case
	if len(v) == 0 {
		return 0
	}
	return parsePushback(v[0])
}

// parsePushback reads one grpc-retry-pushback-ms value.
func parsePushback(s string) time.Duration {
	d, _ := backoff.Digits(s, time.Millisecond, MaxPushback)
	return d
}
