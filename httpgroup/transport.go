package httpgroup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-elb/elb/balancer"
	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/internal/cfgerr"
	"github.com/go-elb/elb/internal/mono"
	"github.com/go-elb/elb/loadreport"
	"github.com/go-elb/elb/sticky"
)

// Limits of Transport.MaxAttempts, and the default Base's pool.
const (
	// DefaultMaxAttempts is the number of attempts per request when
	// Transport.MaxAttempts is 0: the first and two retries.
	DefaultMaxAttempts = 3
	// MaxMaxAttempts is the largest Transport.MaxAttempts.
	MaxMaxAttempts = 10

	// DefaultMaxIdleConnsPerHost is the MaxIdleConnsPerHost of the
	// *http.Transport a Transport with a nil Base makes: how many idle
	// connections it keeps to each backend (net/http's default is 2).
	// 256 lets a backend take up to 256 requests at once, every one of
	// them on a kept connection, the load of a busy balancer in front of
	// few backends (wrk's 64 connections over 3 backends put about 21 at
	// once on each); beyond it, responses close their connections again.
	DefaultMaxIdleConnsPerHost = 256
)

// drainLimit bounds how much of a response retried under RetryStatus is
// read before its body is closed, so that its connection may be reused.
const drainLimit = 4 << 10

// Transport is an http.RoundTripper that sends each request to a backend
// of a group: every attempt picks a backend with Group.Pick and sends a
// copy of the request whose URL names that backend's address, whatever
// host the request's URL names. A request to "http://orders/api" thus
// reaches the group's backends even though "orders" resolves nowhere.
//
// The request is not modified (the RoundTripper contract): each attempt
// sends a shallow copy of it and of its URL, sharing its header map and
// body. The response's Request field is that copy, so its URL names the
// backend that answered.
//
// # Completion
//
// A request stays in flight on its backend, for least_request and
// draining, until its response body is read to EOF or closed, as every
// response body must be; RoundTrip returning is not the end. Responses
// without a body (http.NoBody, as net/http gives for HEAD, 204 and 304)
// end at once; an upgraded connection (101 Switching Protocols, whose body
// stays writable for httputil.ReverseProxy) ends when it is closed. The
// latency reported to the group is the time from sending the request to
// receiving the response headers.
//
// A request counts as a failure of its backend (group.Pick.Done with an
// error: passive health, outlier detection, and peak_ewma's failure
// penalty) when the base RoundTripper fails, when IsFailure says so of the
// response (by default a 5xx), or when reading the body fails.
//
// # Backoff hints
//
// A 429 or 503 response with a Retry-After header (delta-seconds or an
// HTTP-date) benches its backend for that long, at most MaxRetryAfter
// (group.Result.RetryAfter): peak_ewma, least_request and
// weighted_least_connections send it no new request while another backend
// can take one. A value that is neither, or a date in the past, is
// ignored. The Transport does not wait before a retry itself. A request that the caller cancels (context.Canceled) is not the
// backend's failure (it ends as a success would); one whose deadline ran
// out is.
//
// # Retries
//
// An attempt that gets no response is retried on another backend, up to
// MaxAttempts in all, when it may be without risk:
//
//   - the request's context is not done;
//   - the failure is a dial error (the request was not sent), or the
//     request is idempotent: method GET, HEAD, OPTIONS, TRACE, PUT or
//     DELETE (RFC 9110; net/http itself retries the first four only), or
//     an Idempotency-Key or X-Idempotency-Key header;
//   - the request has no body, or a GetBody to send it again with.
//
// Otherwise RoundTrip returns an *AttemptsError whose Reason says why
// (ErrNotIdempotent, ErrNotReplayable or the context's error). With
// RetryStatus, an idempotent request that gets 502, 503 or 504 is retried
// too, except on its last attempt, whose response the caller receives.
// There is no backoff: a retry goes to another backend at once. A retry
// avoids the backends this request has tried, in the pick itself
// (group.Group.Repick): it goes to one not yet tried whenever the group
// has one, whatever the algorithm, least_request, hashing and sticky
// sessions included, and to one tried already only once every backend has
// been.
//
// # Session affinity
//
// If the group has sticky sessions (group.Config.Sticky), the Transport
// reads each request's binding where the mode says:
//
//   - sticky.Cookie: the load-balancer cookie (sticky.Config.CookieName). When
//     the group issues a cookie (a new or moved binding, or a renewal) the
//     response gets a Set-Cookie for it: Path=/, Max-Age of sticky.Config.TTL,
//     HttpOnly, SameSite=Lax, and Secure if the request's URL scheme is
//     https or it arrived over TLS (Request.TLS).
//   - sticky.AppCookie: the application's session cookie
//     (sticky.Config.CookieName). A response that sets that cookie binds the new
//     value to the backend that set it.
//   - sticky.Header: the header sticky.Config.Header.
//   - sticky.SourceIP: the client's address; see ClientIPHeader.
//
// The request's headers are sent as they are, binding cookie included. A
// retry does not follow the binding to a backend the request has tried:
// the request is served by another and, in the Cookie, AppCookie and
// Header modes, its binding moves there with it (a rebind in the group's
// StickyStats; a request counts once, as a hit, miss or rebind, however
// often it is retried).
//
// # Configuration
//
// NewTransport(g, nil) is a Transport with every default: the zero value of
// every field but Group selects a default, documented with the field.
// Group is required, so the zero Transport is not usable: like a Transport
// with a field out of range (Scheme, MaxAttempts), its RoundTrip fails at
// once, before any pick, with an error that names the field and its value
// and wraps elb.ErrInvalidConfig (a *elb.ConfigError, as every config
// error of elb), such as
// "elb: Transport.Group: is nil: want a group (see NewTransport)".
//
// A Transport is safe for concurrent use. Its fields must not change once
// it is in use, and it must not be copied after first use.
type Transport struct {
	// Group is the backend group requests go to. Required: nil is a
	// configuration error.
	Group *group.Group

	// Base sends each attempt to its backend, and holds the connections
	// to the backends. A Base is used as given; it should not use a proxy
	// (a proxy's address is not a member of the group). For https
	// backends, note that a *http.Transport verifies the backend's
	// certificate against the address it dials (the backend's) unless
	// TLSClientConfig.ServerName says otherwise.
	//
	// nil means a *http.Transport made once per Transport with
	// http.DefaultTransport's settings, but no proxy and a connection pool
	// sized for a load balancer: up to DefaultMaxIdleConnsPerHost idle
	// connections per backend and no limit on the total
	// (MaxIdleConns 0), where net/http keeps 2 per host and 100 in all.
	// A balancer sends many requests at once to few hosts: with 2 idle
	// connections per host, every response beyond the second in flight on
	// a backend closes its connection and a later request dials a new one.
	// Idle connections are only ever those that requests needed at once,
	// and each closes after http.DefaultTransport's IdleConnTimeout (90 s)
	// unused, so the pool follows the peak of concurrent requests.
	Base http.RoundTripper

	// Scheme, "http" or "https", replaces the request URL's scheme in what
	// is sent. "" keeps the request's scheme, or uses "http" if it has
	// none (a request a server received). Any other value is a
	// configuration error.
	Scheme string

	// RewriteHost sets the Host header sent to the backend's address.
	// false (the default) sends the request's logical host: Request.Host
	// if set, else the host of its URL.
	RewriteHost bool

	// IsFailure reports whether a response counts as a failure of its
	// backend, for passive health checks and the latency and failure
	// counts. nil means a status of 500 or more. It does not decide
	// retries (see RetryStatus).
	IsFailure func(resp *http.Response) bool

	// MaxAttempts is the number of attempts per request, first and
	// retries, 1 to MaxMaxAttempts; 1 turns retries off. 0 means
	// DefaultMaxAttempts. Other values are a configuration error (see
	// Transport).
	MaxAttempts int

	// RetryStatus also retries, on another backend, an idempotent request
	// (see Retries above) that gets 502, 503 or 504 and can be replayed,
	// unless that was its last attempt. The retried response's body is
	// drained (up to 4 KiB) and closed. false means responses are never
	// retried.
	RetryStatus bool

	// ClientIPHeader names a request header that holds the client's
	// address, such as "X-Forwarded-For" (its first entry is used), for
	// sticky.SourceIP. Set it only when a proxy you trust writes that
	// header: clients can forge it. "" means the client's address is
	// Request.RemoteAddr (set on requests a server received, which a
	// reverse proxy forwards), else the one given with WithClientAddr. A
	// request without the header falls back the same way.
	ClientIPHeader string

	once sync.Once
	def  *http.Transport // Base when Base is nil, made by once
}

// NewTransport returns a Transport that sends requests to g's backends
// through base (nil for the default, with a pool sized for a load
// balancer: see Transport.Base), with the defaults of every other field.
func NewTransport(g *group.Group, base http.RoundTripper) *Transport {
	return &Transport{Group: g, Base: base}
}

// clientAddrKey is the context key of WithClientAddr.
type clientAddrKey struct{}

// WithClientAddr returns a context that tells a Transport the client's
// address, "ip" or "ip:port", for sticky.SourceIP, for requests that have
// no Request.RemoteAddr (and no Transport.ClientIPHeader header).
func WithClientAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientAddrKey{}, addr)
}

// RoundTrip sends req to a backend of the group, retrying on others as
// the Transport says, and returns the last attempt's response. When no
// attempt got a response, the error is an *AttemptsError; req's body is
// closed in every case.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.check(req); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	ctx := req.Context()
	g := t.Group
	cfg, isSticky := g.StickyConfig()
	var (
		r     group.Request // every attempt's: with the request's binding
		tried group.Tried   // the backends the attempts went to
		fails []*AttemptError
		body  = req.Body // not yet handed to base, which closes what it gets
	)
	if isSticky {
		r = t.binding(req, &cfg)
	}
	maxAttempts := t.attempts()
	base := t.base()
	for n := 0; ; n++ {
		if n > 0 {
			if !noBody(req) {
				var err error
				if body, err = req.GetBody(); err != nil {
					return nil, &AttemptsError{Attempts: append(fails,
						&AttemptError{Attempt: n + 1, Err: fmt.Errorf("Request.GetBody: %w", err)})}
				}
			}
		}
		p, err := g.Repick(ctx, r, &tried)
		if err != nil {
			closeBody(body)
			return nil, &AttemptsError{Attempts: append(fails, &AttemptError{Attempt: n + 1, Err: err})}
		}
		a := &attempt{req: *req, url: *req.URL}
		out := &a.req
		out.URL = &a.url
		out.Body = body
		body = nil
		a.url.Host = p.Addr()
		switch {
		case t.Scheme != "":
			a.url.Scheme = t.Scheme
		case a.url.Scheme == "":
			a.url.Scheme = "http"
		}
		switch {
		case t.RewriteHost:
			out.Host = a.url.Host
		case out.Host == "":
			out.Host = req.URL.Host
		}

		// Timed with the monotonic clock alone (internal/mono): the end
		// goes to the group as group.Result.End, which saves DoneWith a
		// read; a load report's Received reads the real clock (respond).
		start := mono.Now()
		resp, err := base.RoundTrip(out)
		stop := mono.Now()
		latency, end := stop-start, mono.Time(stop)
		if err == nil && resp == nil {
			err = errNilResponse
		}
		if err != nil {
			if resp != nil && resp.Body != nil { // a broken RoundTripper
				resp.Body.Close()
			}
			p.DoneWith(group.Result{Err: blame(ctx, err), Latency: latency, End: end})
			fails = append(fails, &AttemptError{Attempt: n + 1, ID: p.ID(), Addr: p.Addr(), Err: err})
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, &AttemptsError{Attempts: fails, Reason: ctxErr}
			}
			if n+1 >= maxAttempts {
				return nil, &AttemptsError{Attempts: fails}
			}
			if why := retriable(req, err); why != nil {
				return nil, &AttemptsError{Attempts: fails, Reason: why}
			}
			continue
		}
		if t.RetryStatus && n+1 < maxAttempts && retryStatus(resp.StatusCode) &&
			idempotent(req) && replayable(req) && ctx.Err() == nil {
			if resp.Body != nil {
				io.CopyN(io.Discard, resp.Body, drainLimit)
				resp.Body.Close()
			}
			se := &statusError{status: resp.Status}
			load, bin := loadHeader(resp.Header)
			if load != "" {
				end = time.Now() // the report's Received (see internal/mono)
			}
			p.DoneWith(group.Result{Err: se, Latency: latency, RetryAfter: retryAfter(resp, time.Now),
				ServerLoad: parseLoad(load, bin), End: end})
			fails = append(fails, &AttemptError{Attempt: n + 1, ID: p.ID(), Addr: p.Addr(), Err: se})
			continue
		}
		if resp.StatusCode == http.StatusSwitchingProtocols &&
			!strings.EqualFold(upgradeType(req.Header), upgradeType(resp.Header)) {
			closeBody(resp.Body)
			p.DoneWith(group.Result{Err: errBadUpgrade, Latency: latency, End: end})
			fails = append(fails, &AttemptError{Attempt: n + 1, ID: p.ID(), Addr: p.Addr(), Err: errBadUpgrade})
			return nil, &AttemptsError{Attempts: fails}
		}
		if isSticky { // before respond, which may end the pick
			afterSticky(req, resp, p, &cfg)
		}
		t.respond(resp, p, a, latency, end)
		return resp, nil
	}
}

// check reports what makes the Transport or req unusable.
func (t *Transport) check(req *http.Request) error {
	switch {
	case t.Group == nil:
		return cfgerr.New("Transport.Group", nil, "is nil: want a group (see NewTransport)")
	case t.Scheme != "" && t.Scheme != "http" && t.Scheme != "https":
		return cfgerr.New("Transport.Scheme", t.Scheme, `must be "", "http" or "https"`)
	case t.MaxAttempts < 0 || t.MaxAttempts > MaxMaxAttempts:
		return cfgerr.New("Transport.MaxAttempts", t.MaxAttempts, fmt.Sprintf("must be 0 (the default, %d) or 1-%d", DefaultMaxAttempts, MaxMaxAttempts))
	case req.URL == nil:
		return errors.New("elb: httpgroup: nil Request.URL")
	}
	return nil
}

// attempts returns the number of attempts per request (MaxAttempts is
// in range: see check).
func (t *Transport) attempts() int {
	if t.MaxAttempts == 0 {
		return DefaultMaxAttempts
	}
	return t.MaxAttempts
}

// base returns the RoundTripper attempts go through.
func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	t.once.Do(t.makeBase)
	return t.def
}

func (t *Transport) makeBase() {
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		t.def = dt.Clone()
	} else { // replaced: net/http's settings
		t.def = &http.Transport{
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: 1 * time.Second,
		}
	}
	t.def.Proxy = nil
	t.def.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
	t.def.MaxIdleConns = 0
}

// CloseIdleConnections closes the idle connections of the base
// RoundTripper, if it has such a method (as *http.Transport does).
func (t *Transport) CloseIdleConnections() {
	if ci, ok := t.base().(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

var (
	errNilResponse = errors.New("elb: httpgroup: base RoundTripper returned a nil *Response with a nil error")
	// errBadUpgrade: a 101 response that switches to a protocol the
	// request did not ask for. httputil.ReverseProxy would refuse it
	// without closing the body, and the pick would never end.
	errBadUpgrade = errors.New("elb: httpgroup: 101 response switches to a protocol the request did not ask for")
)

// upgradeType returns the protocol a Connection: Upgrade header asks
// for or switches to, "" if none: as net/http/httputil reads it.
func upgradeType(h http.Header) string {
	for _, v := range h["Connection"] {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return h.Get("Upgrade")
			}
		}
	}
	return ""
}

// respond prepares the response of the attempt a: the body wrapper that
// ends the pick when the body is done, or the end of the pick at once.
func (t *Transport) respond(resp *http.Response, p group.Pick, a *attempt, latency time.Duration, end time.Time) {
	var failed bool
	if t.IsFailure != nil {
		failed = t.IsFailure(resp)
	} else {
		failed = resp.StatusCode >= 500
	}
	ra := retryAfter(resp, time.Now)
	load, bin := loadHeader(resp.Header)
	if load != "" {
		end = time.Now() // the report's Received (see internal/mono)
	}
	if resp.Body == nil || resp.Body == http.NoBody {
		var err error
		if failed {
			err = errFailure
		}
		p.DoneWith(group.Result{Err: err, Latency: latency, RetryAfter: ra, ServerLoad: parseLoad(load, bin), End: end})
		return
	}
	a.rc, a.pick, a.latency, a.end, a.retryAfter, a.load = resp.Body, p, latency, end, ra, load
	if failed || bin { // else the state is the zero of a new attempt
		var s uint32
		if failed {
			s |= stateFailed
		}
		if bin {
			s |= stateLoadBin
		}
		a.state.Store(s)
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		if rwc, ok := resp.Body.(io.ReadWriteCloser); ok {
			// An upgraded connection: httputil.ReverseProxy writes to it.
			resp.Body = &upgradeBody{attempt: a, w: rwc}
			return
		}
	}
	resp.Body = a
}

// errFailure is the error Done reports for a response IsFailure rejects.
var errFailure = errors.New("elb: httpgroup: failure response")

// retriable returns nil if a request whose attempt failed with err (no
// response) may be retried, or the reason it may not.
func retriable(req *http.Request, err error) error {
	if !dialError(err) && !idempotent(req) {
		return ErrNotIdempotent
	}
	if !replayable(req) {
		return ErrNotReplayable
	}
	return nil
}

// dialError reports whether err is a failure to connect: the request was
// not sent.
func dialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// idempotent reports whether req may be sent twice: an idempotent method
// or an idempotency key.
func idempotent(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	_, ok := req.Header["Idempotency-Key"]
	if !ok {
		_, ok = req.Header["X-Idempotency-Key"]
	}
	return ok
}

// noBody reports whether req has no body.
func noBody(req *http.Request) bool { return req.Body == nil || req.Body == http.NoBody }

// replayable reports whether req's body can be sent again.
func replayable(req *http.Request) bool { return noBody(req) || req.GetBody != nil }

// retryStatus reports whether RetryStatus retries a response's status.
func retryStatus(code int) bool {
	return code == http.StatusBadGateway || code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout
}

// blame returns the error to report to the group for err, a failure of a
// request made with ctx: none when the caller cancelled the request.
func blame(ctx context.Context, err error) error {
	if err != nil && errors.Is(ctx.Err(), context.Canceled) {
		return nil
	}
	return err
}

func closeBody(b io.ReadCloser) {
	if b != nil {
		b.Close()
	}
}

// binding returns the first attempt's group.Request: where the request
// carries its binding, as the sticky mode says.
func (t *Transport) binding(req *http.Request, cfg *sticky.Config) group.Request {
	switch cfg.Mode {
	case sticky.Cookie, sticky.AppCookie:
		return group.Request{Affinity: cookieValue(req.Header, cfg.CookieName)}
	case sticky.Header:
		return group.Request{Affinity: req.Header.Get(cfg.Header)}
	case sticky.SourceIP:
		return group.Request{Source: t.clientAddr(req)}
	}
	return group.Request{}
}

// clientAddr returns the client's address for sticky.SourceIP.
func (t *Transport) clientAddr(req *http.Request) string {
	if t.ClientIPHeader != "" {
		if v := firstEntry(req.Header.Get(t.ClientIPHeader)); v != "" {
			return v
		}
	}
	if req.RemoteAddr != "" {
		return req.RemoteAddr
	}
	addr, _ := req.Context().Value(clientAddrKey{}).(string)
	return addr
}

// loadHeader returns the load report a response's header carries: the
// value of loadreport.Header, or else of loadreport.HeaderBin (bin true),
// each only if the header has one value; "" for none. It does not parse
// the value (see parseLoad): a response without a report costs a map
// lookup per header, and none for a response with no header at all.
func loadHeader(h http.Header) (v string, bin bool) {
	if len(h) == 0 {
		return "", false
	}
	if vs := h[loadreport.Header]; len(vs) == 1 {
		return vs[0], false
	}
	if vs := h[loadreport.HeaderBin]; len(vs) == 1 {
		return vs[0], true
	}
	return "", false
}

// parseLoad parses a load report header's value, as loadHeader returns
// it: the zero value for none, and for one that is malformed (untrusted
// input, ignored).
func parseLoad(v string, bin bool) balancer.ServerLoad {
	var r balancer.ServerLoad
	switch {
	case v == "":
	case bin:
		r, _ = loadreport.ParseBin(v)
	default:
		r, _ = loadreport.Parse(v)
	}
	return r
}
