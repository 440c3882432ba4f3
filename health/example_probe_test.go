package health_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/go-elb/elb/health"
)

// An HTTP health check of "/healthz" that takes 200 and 204, tried on a
// backend that answers 204 there and 503 elsewhere.
func ExampleHTTPCheck() {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer backend.Close()
	addr := backend.Listener.Addr().String() // "127.0.0.1:port"

	probe := &health.HTTPCheck{Path: "/healthz", ExpectedCodes: "200,204"}
	if err := probe.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), health.DefaultTimeout)
	defer cancel()
	fmt.Println(probe.Probe(ctx, addr))
	fmt.Println(health.HTTPProbe("/ready").Probe(ctx, addr))

	fmt.Println((&health.HTTPCheck{ExpectedCodes: "200-"}).Validate())
	// Output:
	// <nil>
	// unexpected status 503 (want 200)
	// elb: ExpectedCodes: "200-" is not a list of status codes: "" is not a status code: want codes 100-599 and ranges such as 200-399, separated by commas
}

// A gRPC health check, as the probe of a Config: every 10s, each backend is
// asked whether it serves helloworld.Greeter, on its health port 8081.
func ExampleGRPCCheck() {
	cfg := health.Config{
		Probe:    &health.GRPCCheck{Service: "helloworld.Greeter", Port: 8081},
		Interval: 10 * time.Second,
	}
	cfg, err := cfg.Normalized()
	fmt.Println(cfg.Timeout, err)
	// Output: 3s <nil>
}
