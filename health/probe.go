package health

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/go-elb/elb/internal/cfgerr"
)

// ErrUnexpectedStatus is wrapped by the error of an HTTP probe whose
// response status code is not one of HTTPCheck.ExpectedCodes, such as
// "unexpected status 503 (want 200-399)".
var ErrUnexpectedStatus = errors.New("unexpected status")

// ErrNotServing is wrapped by the error of a gRPC probe whose backend
// answers that the service is not serving: status NOT_SERVING,
// SERVICE_UNKNOWN or UNKNOWN, or grpc-status 5 (NOT_FOUND), the protocol's
// answer for a service it does not know.
var ErrNotServing = errors.New("not serving")

// maxBody is the most of a response body that a probe reads.
const maxBody = 4 << 10

// maxHeaderBytes bounds the response header a probe accepts.
const maxHeaderBytes = 64 << 10

// userAgent is the User-Agent of HTTP and gRPC probes.
const userAgent = "go-elb-health-check/1"

// TCPCheck is a Prober that passes when a TCP connection to the backend
// opens; the connection is closed at once. The zero value probes the
// backend's own port.
type TCPCheck struct {
	// Port, if not 0, is the port probed instead of the backend's own,
	// 1-65535: a separate health port.
	Port int
}

// TCPProbe returns a TCPCheck of the backend's own port.
func TCPProbe() *TCPCheck { return &TCPCheck{} }

// Validate returns an *elb.ConfigError (wrapping elb.ErrInvalidConfig) for the
// first field of c out of range, or nil.
func (c *TCPCheck) Validate() error {
	if c == nil {
		return errNilProbe
	}
	return validatePort(c.Port)
}

// errNilProbe is what Validate returns for a nil check.
var errNilProbe = cfgerr.New("", nil, "a probe is required, not a nil check")

// Probe opens a TCP connection to addr (or to its host at c.Port) and
// closes it. It fails with the dial error, such as "dial tcp
// 127.0.0.1:8080: connect: connection refused".
func (c *TCPCheck) Probe(ctx context.Context, addr string) error {
	if err := c.Validate(); err != nil {
		return err
	}
	target, err := withPort(addr, c.Port)
	if err != nil {
		return err
	}
	conn, err := probeDialer.DialContext(ctx, "tcp", target)
	if err != nil {
		return err
	}
	return conn.Close()
}

// probeDialer dials the connections of probes. TCP keep-alives are off: a
// probe's connection is short-lived.
var probeDialer = &net.Dialer{KeepAlive: -1}

// HTTPCheck is a Prober that sends one HTTP request to the backend and
// passes when the response status code is one of ExpectedCodes. It never
// follows redirects: a 3xx response is judged by ExpectedCodes like any
// other. It reads at most 4 KiB of the response body.
//
// The zero value sends "GET /" over plain HTTP to the backend's own port and
// expects 200. A check is checked and made ready at its first Probe and
// must not be modified after it; it may be shared by the probes of many
// backends.
type HTTPCheck struct {
	// Scheme is "http" or "https". "" means "http".
	Scheme string

	// Method is "GET", "HEAD" or "POST" (which sends an empty body).
	// "" means "GET".
	Method string

	// Path is the request's path, with an optional query, such as
	// "/healthz?full=1". It must start with "/". "" means "/".
	Path string

	// Host is the request's Host header, such as "api.example.com". ""
	// means the backend's address ("host:port").
	Host string

	// Port, if not 0, is the port probed instead of the backend's own,
	// 1-65535: a separate health port.
	Port int

	// ExpectedCodes lists the status codes that pass: codes and ranges,
	// separated by commas, such as "200", "200,204", "200-399" or
	// "200,300-399". Each code is 100-599, and a range's low end is at most
	// its high end. Spaces around codes are ignored. "" means "200".
	ExpectedCodes string

	// TLSConfig configures TLS for Scheme "https". nil means the system's
	// root CAs. If its ServerName is empty, the host of Host is used, or
	// else the host of the backend's address. It must be nil when
	// Transport is set.
	TLSConfig *tls.Config

	// Transport sends the requests. nil means one made for this check and
	// shared by its probes: it has keep-alives off, so that every probe
	// checks that the backend accepts a new connection, and uses no proxy.
	Transport http.RoundTripper

	once     sync.Once
	compiled *httpCompiled
	err      error
}

// HTTPProbe returns an HTTPCheck that sends "GET path" and expects 200.
func HTTPProbe(path string) *HTTPCheck { return &HTTPCheck{Path: path} }

// httpCompiled is an HTTPCheck's configuration checked and made ready.
type httpCompiled struct {
	scheme string
	method string
	uri    *url.URL // path and query
	codes  codeSet
	want   string // the expected codes, for messages
	rt     http.RoundTripper
}

// Validate returns an *elb.ConfigError (wrapping elb.ErrInvalidConfig) for the
// first field of c out of range, or nil.
func (c *HTTPCheck) Validate() error {
	if c == nil {
		return errNilProbe
	}
	_, err := c.compile(false)
	return err
}

// Probe sends c's request to the backend at addr and checks the response
// status code. It fails with ErrUnexpectedStatus (wrapped, naming the code)
// if the code is not expected, or with the error of the request.
func (c *HTTPCheck) Probe(ctx context.Context, addr string) error {
	c.once.Do(func() { c.compiled, c.err = c.compile(true) })
	if c.err != nil {
		return c.err
	}
	hc := c.compiled
	target, err := withPort(addr, c.Port)
	if err != nil {
		return err
	}
	u := *hc.uri
	u.Scheme = hc.scheme
	u.Host = target
	req, err := http.NewRequestWithContext(ctx, hc.method, u.String(), nil)
	if err != nil {
		return err
	}
	if hc.method == http.MethodPost {
		req.Body = http.NoBody
	}
	if c.Host != "" {
		req.Host = c.Host
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := hc.rt.RoundTrip(req)
	if err != nil {
		return err
	}
	_, bodyErr := io.CopyN(io.Discard, resp.Body, maxBody)
	resp.Body.Close()
	if !hc.codes.has(resp.StatusCode) {
		return fmt.Errorf("%w %d (want %s)", ErrUnexpectedStatus, resp.StatusCode, hc.want)
	}
	if bodyErr != nil && bodyErr != io.EOF {
		return fmt.Errorf("reading response body: %w", bodyErr)
	}
	return nil
}

// compile checks c and makes it ready to probe; the transport, if c has
// none, is made only if withTransport.
func (c *HTTPCheck) compile(withTransport bool) (*httpCompiled, error) {
	hc := &httpCompiled{scheme: c.Scheme, method: c.Method}
	switch c.Scheme {
	case "":
		hc.scheme = "http"
	case "http", "https":
	default:
		return nil, cfgerr.New("Scheme", c.Scheme, `must be "http" or "https"`)
	}
	switch c.Method {
	case "":
		hc.method = http.MethodGet
	case http.MethodGet, http.MethodHead, http.MethodPost:
	default:
		return nil, cfgerr.New("Method", c.Method, `must be "GET", "HEAD" or "POST"`)
	}
	path := c.Path
	if path == "" {
		path = "/"
	}
	if !strings.HasPrefix(path, "/") {
		return nil, cfgerr.New("Path", c.Path, `must start with "/"`)
	}
	uri, err := url.ParseRequestURI(path)
	if err != nil || hasCtl(path) {
		return nil, cfgerr.New("Path", c.Path, "must be a valid request path")
	}
	hc.uri = &url.URL{Path: uri.Path, RawPath: uri.RawPath, RawQuery: uri.RawQuery, ForceQuery: uri.ForceQuery}
	if strings.ContainsAny(c.Host, " /\\?#@") || hasCtl(c.Host) {
		return nil, cfgerr.New("Host", c.Host, "must be a valid host")
	}
	if err := validatePort(c.Port); err != nil {
		return nil, err
	}
	hc.want = strings.TrimSpace(c.ExpectedCodes)
	if c.ExpectedCodes == "" {
		hc.want = "200"
	}
	if hc.codes, err = parseCodes(hc.want); err != nil {
		return nil, cfgerr.New("ExpectedCodes", c.ExpectedCodes, "is not a list of status codes: "+err.Error())
	}
	if c.Transport != nil {
		if c.TLSConfig != nil {
			return nil, cfgerr.New("TLSConfig", nil, "must be nil when Transport is set")
		}
		hc.rt = c.Transport
		return hc, nil
	}
	if !withTransport {
		return hc, nil
	}
	t := newProbeTransport()
	if hc.scheme == "https" {
		t.TLSClientConfig = clientTLS(c.TLSConfig, c.Host)
	}
	hc.rt = t
	return hc, nil
}

// newProbeTransport returns a transport for probes: no proxy, no
// keep-alives, no compression, a bounded response header.
func newProbeTransport() *http.Transport {
	return &http.Transport{
		Proxy:                  nil, // never http.ProxyFromEnvironment
		DialContext:            probeDialer.DialContext,
		DisableKeepAlives:      true,
		DisableCompression:     true,
		MaxResponseHeaderBytes: maxHeaderBytes,
	}
}

// clientTLS returns a copy of cfg (or a new config if nil) whose
// ServerName, if empty, is the host of host (if not empty). When it stays
// empty, the transport uses the host of the address dialled.
func clientTLS(cfg *tls.Config, host string) *tls.Config {
	if cfg == nil {
		cfg = &tls.Config{}
	} else {
		cfg = cfg.Clone()
	}
	if cfg.ServerName == "" && host != "" {
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		cfg.ServerName = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	return cfg
}

// codeSet is a set of HTTP status codes 100-599, one bit each.
type codeSet [10]uint64

func (s *codeSet) has(code int) bool {
	return code >= 0 && code < 640 && s[code/64]&(1<<(code%64)) != 0
}

func (s *codeSet) add(lo, hi int) {
	for c := lo; c <= hi; c++ {
		s[c/64] |= 1 << (c % 64)
	}
}

// parseCodes parses a list such as "200,300-399" (see
// HTTPCheck.ExpectedCodes). Unlike the field, it takes "" to be invalid.
func parseCodes(list string) (codeSet, error) {
	var s codeSet
	for elem := range strings.SplitSeq(list, ",") {
		lo, hi, isRange := strings.Cut(elem, "-")
		l, err := parseCode(lo)
		if err != nil {
			return s, err
		}
		h := l
		if isRange {
			if h, err = parseCode(hi); err != nil {
				return s, err
			}
			if l > h {
				return s, fmt.Errorf("range %s has low end above high end", strings.TrimSpace(elem))
			}
		}
		s.add(l, h)
	}
	return s, nil
}

func parseCode(s string) (int, error) {
	s = strings.TrimSpace(s)
	if len(s) != 3 || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a status code: want codes 100-599 and ranges such as 200-399, separated by commas", s)
	}
	n, _ := strconv.Atoi(s)
	if n < 100 || n > 599 {
		return 0, fmt.Errorf("status code %d is not 100-599", n)
	}
	return n, nil
}

// validatePort checks a check's Port field.
func validatePort(port int) error {
	if port < 0 || port > 65535 {
		return cfgerr.New("Port", port, "must be 0 (the backend's port) or 1-65535")
	}
	return nil
}

// withPort returns addr with its port replaced by port, or addr if port
// is 0.
func withPort(addr string, port int) (string, error) {
	if port == 0 {
		return addr, nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), nil
}

// hasCtl reports whether s holds an ASCII control character.
func hasCtl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] == 0x7f {
			return true
		}
	}
	return false
}
