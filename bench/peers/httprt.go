package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/bufbuild/httplb"
	"github.com/bufbuild/httplb/resolver"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/httpgroup"
)

// HTTP contender names.
const (
	nameHTTPBare   = "http bare RoundTripper"
	nameHTTPElb    = "http elb httpgroup.Transport"
	nameHTTPHttplb = "http bufbuild/httplb"
)

// httpAddrs are the three backends of the HTTP contenders: addresses
// only, nothing is dialled.
var httpAddrs = []string{"10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080"}

// canned is an in-process RoundTripper: it answers every request with a
// 200 and a two-byte body, in one allocation and with no network. A copy
// of the one in the root module's httpgroup/bench_test.go.
type canned struct{}

type cannedResponse struct {
	resp http.Response
	body cannedBody
}

type cannedBody struct{ sent bool }

func (b *cannedBody) Read(p []byte) (int, error) {
	if b.sent {
		return 0, io.EOF
	}
	b.sent = true
	return copy(p, "ok"), nil
}

func (b *cannedBody) Close() error { return nil }

var cannedHeader = http.Header{"Content-Type": {"text/plain"}}

func (canned) RoundTrip(req *http.Request) (*http.Response, error) {
	c := &cannedResponse{}
	c.resp = http.Response{
		Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: cannedHeader, Body: &c.body, ContentLength: 2, Request: req,
	}
	return &c.resp, nil
}

// NewRoundTripper makes canned an httplb.Transport: httplb calls it for
// each resolved address and sends that address's requests to the result.
func (c canned) NewRoundTripper(_, _ string, _ httplb.TransportConfig) httplb.RoundTripperResult {
	return httplb.RoundTripperResult{RoundTripper: c}
}

// staticResolver is an httplb resolver that resolves every name to
// httpAddrs, once.
type staticResolver struct{}

func (staticResolver) New(_ context.Context, _, _ string, r resolver.Receiver, _ <-chan struct{}) io.Closer {
	addrs := make([]resolver.Address, len(httpAddrs))
	for i, a := range httpAddrs {
		addrs[i] = resolver.Address{HostPort: a}
	}
	go r.OnResolve(addrs)
	return io.NopCloser(nil)
}

// httpContenders builds the HTTP contenders: the canned RoundTripper
// alone, elb's httpgroup.Transport over it (a round_robin group of the
// three addresses, weight 1 each) and httplb's client transport over it
// (its default picker, round robin, over the same three addresses). Each
// op is one RoundTrip of GET http://orders/ and the response body read to
// EOF and closed.
func httpContenders(f *failure) ([]*contender, error) {
	g, err := group.New(group.Config{Name: "orders", Algorithm: "round_robin"})
	if err != nil {
		return nil, err
	}
	bs := make([]group.Backend, len(httpAddrs))
	for i, a := range httpAddrs {
		bs[i] = group.Backend{Addr: a}
	}
	if err := g.Add(bs...); err != nil {
		_ = g.Close(context.Background())
		return nil, err
	}
	client := httplb.NewClient(
		httplb.WithTransport("http", canned{}),
		httplb.WithResolver(staticResolver{}),
		httplb.WithAllowBackendTarget("http", "orders"),
	)
	cs := []*contender{
		roundTripContender(nameHTTPBare, canned{}, f), // no balancing: see noIndex
		roundTripContender(nameHTTPElb, httpgroup.NewTransport(g, canned{}), f),
		roundTripContender(nameHTTPHttplb, client.Transport, f),
	}
	cs[0].noIndex, cs[0].index = true, nil
	cs[1].close = func() { _ = g.Close(context.Background()) }
	cs[2].close = func() { _ = client.Close() }
	// httplb resolves and builds its picker in the background on the
	// first request to a target: send one (bounded) before measuring.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://orders/", nil)
	resp, err := client.Transport.RoundTrip(req)
	if err == nil {
		err = drain(resp.Body, make([]byte, 512))
	}
	if err != nil {
		for _, c := range cs {
			if c.close != nil {
				c.close()
			}
		}
		return nil, fmt.Errorf("httplb's first request: %w", err)
	}
	return cs, nil
}

// drain reads a body to EOF, and closes it.
func drain(body io.ReadCloser, buf []byte) error {
	for {
		_, err := body.Read(buf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			body.Close()
			return err
		}
	}
	return body.Close()
}

// roundTripContender sends GET http://orders/ through rt, and reads the
// response body to EOF and closes it. Each goroutine reuses one request,
// as RoundTrip allows and the root module's httpgroup benchmarks do.
func roundTripContender(name string, rt http.RoundTripper, f *failure) *contender {
	index := make(map[string]int, len(httpAddrs))
	for i, a := range httpAddrs {
		index[a] = i
	}
	// one sends req and returns the host it went to, or "" on a failure.
	one := func(req *http.Request, buf []byte) string {
		resp, err := rt.RoundTrip(req)
		if err != nil {
			f.fail(err)
			return ""
		}
		host := resp.Request.URL.Host
		if err := drain(resp.Body, buf); err != nil {
			f.fail(err)
			return ""
		}
		return host
	}
	newOp := func() func(uint64) int {
		req, err := http.NewRequest(http.MethodGet, "http://orders/", nil)
		if err != nil {
			return func(uint64) int { return f.fail(err) }
		}
		buf := make([]byte, 512)
		return func(uint64) int {
			if one(req, buf) == "" {
				return -1
			}
			return 0
		}
	}
	c := &contender{name: name, newOp: newOp}
	req, err := http.NewRequest(http.MethodGet, "http://orders/", nil)
	if err != nil {
		c.index = func(uint64) int { return f.fail(err) }
		return c
	}
	buf := make([]byte, 512)
	c.index = func(uint64) int {
		host := one(req, buf)
		if host == "" {
			return -1
		}
		i, ok := index[host]
		if !ok {
			return f.fail(fmt.Errorf("request sent to %q, not a backend", host))
		}
		return i
	}
	return c
}
