package main

import "net/http"

// LOADREPORT HOOK. Algorithms that need the backends to report their load
// (an ORCA-style endpoint-load-metrics header) or to answer probes
// (Prequal) need the server half, package github.com/go-elb/elb/loadreport,
// which is being written apart from this lab. Once it exists:
//
//   - backendMiddleware returns loadreport's net/http middleware around
//     next, reporting b.Utilization() (slots in use / slots) and
//     b.Queue() as the backend's load;
//   - probeHandler returns loadreport's probe handler for b, served at
//     probePath, answering with b.Queue()+b.InService() as the requests in
//     flight and the recent latency.
//
// Nothing else changes: the algorithm is selected with -algos, like any
// other, and the backends run these for every algorithm, as servers would.

// backendMiddleware wraps a backend's /work handler. Today: none.
func backendMiddleware(b *Backend, next http.Handler) http.Handler {
	_ = b
	return next
}

// probePath is where a backend serves probes.
const probePath = "/probe"

// probeHandler is the handler for probes sent to b at probePath; nil
// serves none. Today: none.
func probeHandler(b *Backend) http.Handler {
	_ = b
	return nil
}
