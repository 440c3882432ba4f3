// Package httpgroup sends HTTP requests to the backends of a group.Group.
//
// Its Transport is an http.RoundTripper: put it in an http.Client to call
// a service by a logical name, or in an httputil.ReverseProxy to make a
// load balancer.
//
//	client := &http.Client{Transport: httpgroup.NewTransport(g, nil)}
//	resp, err := client.Get("http://orders/api/orders/42") // to a backend of g
//
//	proxy := &httputil.ReverseProxy{
//		// No SetURL: the Transport fills in the backend's address (and
//		// the scheme, http unless Transport.Scheme says otherwise).
//		Rewrite:   func(r *httputil.ProxyRequest) { r.SetXForwarded() },
//		Transport: httpgroup.NewTransport(g, nil),
//	}
//
// Every attempt picks a backend and sends the request to its address: the
// host in the request's URL is never dialled, and the Host header keeps
// the request's logical host unless Transport.RewriteHost is set.
//
// # Connections
//
// A Transport holds the connections to the backends (in its Base): make
// one per group and share it between clients, as with http.Transport.
// NewTransport(g, nil) keeps up to DefaultMaxIdleConnsPerHost (256) idle
// connections per backend, where net/http keeps 2: with 2, a balancer
// with more requests in flight per backend than that closes a connection
// after most responses and dials a new one for a later request. A Base you
// give is used as given. The zero Transport has no group: its RoundTrip
// fails at once with an error wrapping elb.ErrInvalidConfig that names
// Transport.Group (see Transport).
//
// # What the group sees
//
// Each attempt is one Pick, ended when the response's body is read to EOF
// or closed: a backend's in-flight count (least_request, draining) covers
// the body's transfer. Connection failures, 5xx responses (or what
// Transport.IsFailure says) and body read errors count as the backend's
// failures, for outlier detection; the latency to the response headers
// feeds the latency-aware algorithms, and the server's load report in the
// Endpoint-Load-Metrics (or Endpoint-Load-Metrics-Bin) header, read with
// loadreport.Parse, those that balance by server load (load_report_wrr).
// A malformed report is ignored; the response is not failed for it.
//
// # Retries
//
// A request that gets no response is retried on another backend when it
// is safe: the connection failed before the request was sent, or the
// request is idempotent, and its body (if any) can be sent again
// (Request.GetBody). A request is never sent twice otherwise; the error
// says why (ErrNotReplayable, ErrNotIdempotent). With
// Transport.RetryStatus, idempotent requests answered 502, 503 or 504 are
// retried too. Transport.MaxAttempts bounds the attempts (3 by default).
//
// # Sessions
//
// When the group has sticky sessions, the Transport reads each request's
// binding from its cookie, header or client address, and sets the
// load-balancer cookie on responses, as the group's sticky.Mode says. An
// http.Client sends the cookie back only if it has a Jar
// (net/http/cookiejar): give each client session a jar of its own.
//
// # Cost
//
// An attempt allocates once: the shallow copies of the request and its URL
// (their header map and body are shared with the request) and the
// response body's wrapper, in one object of 576 bytes, 448 of them the
// copies the RoundTripper contract calls for (a RoundTrip must not modify
// its request). Picking allocates nothing; see the group package. An
// attempt reads the clock twice, around the base RoundTripper, for its
// latency; a response's headers are looked up for Retry-After only on a
// 429 or 503, and for a load report with a map lookup of
// Endpoint-Load-Metrics (and of Endpoint-Load-Metrics-Bin if that has
// none), the report parsed only if there is one.
// The package's BenchmarkInProcess measures this against a base that costs
// next to nothing, with the group's part (Pick and DoneWith) beside it.
package httpgroup
