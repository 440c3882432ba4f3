package grpcgroup

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
)

// ResolverOption configures the elb resolver: Register, WithRegistry and
// NewResolver take them.
type ResolverOption func(*resolverOptions)

type resolverOptions struct {
	retry []methodName // RetryIdempotent's methods
	err   error        // the first invalid option
}

// ErrInvalidMethod is wrapped by the error of a channel whose resolver
// options name a method wrongly (see RetryIdempotent): the channel's calls
// fail with it, as with any resolver error.
var ErrInvalidMethod = errors.New("invalid method name")

// RetryIdempotent marks methods as idempotent, safe to send twice: the
// service config the elb resolver supplies (see the package
// documentation) retries their calls that fail with UNAVAILABLE, as when
// the server they went to was killed, on another backend: up to 4
// attempts, backing off 10ms to 100ms between them (gRPC's retry policy,
// gRFC A6; a call the server had begun answering is never retried). Each
// name is a full method name, "pkg.Service/Method" (a leading "/", as in
// grpc.Method, is allowed), or a service, "pkg.Service", for all of its
// methods. A malformed name fails the channel's resolution with an error
// wrapping ErrInvalidMethod. Calls of other methods are not retried but
// for gRPC's transparent retries (of calls that never left the client).
// No effect when the resolver supplies no service config.
func RetryIdempotent(methods ...string) ResolverOption {
	return func(o *resolverOptions) {
		for _, m := range methods {
			n, err := parseMethod(m)
			if err != nil {
				if o.err == nil {
					o.err = err
				}
				continue
			}
			o.retry = append(o.retry, n)
		}
	}
}

// methodName is a service config's name of a method, or of a service's
// every method when Method is empty.
type methodName struct {
	Service string `json:"service"`
	Method  string `json:"method,omitempty"`
}

// parseMethod reads "pkg.Service/Method", "/pkg.Service/Method" or
// "pkg.Service".
func parseMethod(s string) (methodName, error) {
	svc, method, _ := strings.Cut(strings.TrimPrefix(s, "/"), "/")
	if svc == "" || strings.Contains(method, "/") || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return methodName{}, fmt.Errorf("elb: RetryIdempotent: %q: %w: want \"pkg.Service/Method\" or \"pkg.Service\"", s, ErrInvalidMethod)
	}
	return methodName{Service: svc, Method: method}, nil
}

// serviceConfig is the service config the elb resolver supplies: the
// "elb" policy with its defaults, and the retry policy of the methods
// RetryIdempotent names.
func (o *resolverOptions) serviceConfig() string {
	type retryPolicy struct {
		MaxAttempts          int      `json:"maxAttempts"`
		InitialBackoff       string   `json:"initialBackoff"`
		MaxBackoff           string   `json:"maxBackoff"`
		BackoffMultiplier    float64  `json:"backoffMultiplier"`
		RetryableStatusCodes []string `json:"retryableStatusCodes"`
	}
	type methodConfig struct {
		Name        []methodName `json:"name"`
		RetryPolicy retryPolicy  `json:"retryPolicy"`
	}
	sc := struct {
		LB      []map[string]struct{} `json:"loadBalancingConfig"`
		Methods []methodConfig        `json:"methodConfig,omitempty"`
	}{LB: []map[string]struct{}{{Name: {}}}}
	if len(o.retry) > 0 {
		sc.Methods = []methodConfig{{Name: o.retry, RetryPolicy: retryPolicy{
			MaxAttempts: 4, InitialBackoff: "0.01s", MaxBackoff: "0.1s", BackoffMultiplier: 2,
			RetryableStatusCodes: []string{"UNAVAILABLE"}}}}
	}
	js, _ := json.Marshal(sc) // plain types: cannot fail
	return string(js)
}

// scLink tells an elb resolver whether its channel runs the "elb" policy
// without the resolver's service config: the policy marks it claimed when
// a resolver update (the probe: see groupResolver.update) reaches it.
type scLink struct{ claimed atomic.Bool }
