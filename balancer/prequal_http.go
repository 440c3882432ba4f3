package balancer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"time"
)

// probeClient is the HTTP client of every default prober: its idle
// connections, at most 8 per endpoint, close after 30s unused.
var probeClient = &http.Client{
	Transport: &http.Transport{
		Proxy:               nil, // endpoints are dialled directly
		DialContext:         (&net.Dialer{Timeout: time.Second}).DialContext,
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// maxProbeAnswer bounds the body of a probe answer that is read.
const maxProbeAnswer = 1 << 10

// HTTPProbe returns the prober [Prequal] uses when its Probe is nil: a GET
// of http://<Addr><path> ("" means [DefaultProbePath]) with client (nil
// means a client shared by every default prober, which keeps at most 8 idle
// connections per endpoint for 30s). The answer must have status 200 and
// a JSON object body of at most 1 KiB, as loadreport.ProbeHandler writes:
//
//	{"inFlight": 3, "latencyMs": 12.5}
//
// inFlight, the requests the server is serving, is required: an integer
// 0 to 2^31-1. latencyMs, the server's latency estimate in milliseconds,
// may be absent (no estimate); it is a number 0 to 3,600,000 (an hour).
// Other members are ignored. Anything else is a failed probe.
func HTTPProbe(path string, client *http.Client) ProbeFunc {
	if path == "" {
		path = DefaultProbePath
	}
	if client == nil {
		client = probeClient
	}
	return func(ctx context.Context, ep Endpoint) (ProbeResult, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ep.Addr+path, nil)
		if err != nil {
			return ProbeResult{}, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return ProbeResult{}, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxProbeAnswer+1))
		if err != nil {
			return ProbeResult{}, err
		}
		if resp.StatusCode != http.StatusOK {
			return ProbeResult{}, fmt.Errorf("elb: probe of %s: status %d", ep.Addr, resp.StatusCode)
		}
		r, err := parseProbeAnswer(body)
		if err != nil {
			return ProbeResult{}, fmt.Errorf("elb: probe of %s: %w", ep.Addr, err)
		}
		return r, nil
	}
}

// errProbeAnswer is the error of a probe answer that is not as
// [HTTPProbe] documents.
var errProbeAnswer = errors.New("malformed probe answer")

// parseProbeAnswer reads a probe answer's body.
func parseProbeAnswer(b []byte) (ProbeResult, error) {
	if len(b) > maxProbeAnswer {
		return ProbeResult{}, fmt.Errorf("%w: longer than %d bytes", errProbeAnswer, maxProbeAnswer)
	}
	var a struct {
		InFlight  *int64   `json:"inFlight"`
		LatencyMs *float64 `json:"latencyMs"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&a); err != nil {
		return ProbeResult{}, fmt.Errorf("%w: %v", errProbeAnswer, err)
	}
	if dec.More() {
		return ProbeResult{}, fmt.Errorf("%w: data after the JSON object", errProbeAnswer)
	}
	if a.InFlight == nil {
		return ProbeResult{}, fmt.Errorf("%w: no inFlight", errProbeAnswer)
	}
	n := *a.InFlight
	if n < 0 || n > math.MaxInt32 {
		return ProbeResult{}, fmt.Errorf("%w: inFlight %d is not 0-%d", errProbeAnswer, n, math.MaxInt32)
	}
	r := ProbeResult{InFlight: n}
	if a.LatencyMs != nil {
		ms := *a.LatencyMs
		if !(ms >= 0 && ms <= float64(time.Hour/time.Millisecond)) {
			return ProbeResult{}, fmt.Errorf("%w: latencyMs %v is not 0-3600000", errProbeAnswer, ms)
		}
		r.Latency = time.Duration(ms * float64(time.Millisecond))
	}
	return r, nil
}
