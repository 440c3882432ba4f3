package health

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-elb/elb/internal/cfgerr"
)

// GRPCCheck is a Prober that asks the backend, with the standard gRPC
// health checking protocol (grpc.health.v1.Health/Check), whether a service
// is serving, and passes only when the answer is SERVING.
//
// The check speaks HTTP/2 with the standard library and does not link the
// gRPC module. Every probe opens a new connection.
//
// The zero value asks, over plaintext HTTP/2, about the server as a whole
// at the backend's own port. A check is checked and made ready at its first
// Probe and must not be modified after it; it may be shared by the probes of
// many backends.
type GRPCCheck struct {
	// Service is the name of the service asked about, such as
	// "helloworld.Greeter". "" means the server as a whole.
	Service string

	// Port, if not 0, is the port probed instead of the backend's own,
	// 1-65535: a separate health port.
	Port int

	// TLSConfig, if not nil, configures TLS; an empty ServerName means the
	// host of the backend's address. nil means plaintext HTTP/2 (h2c with
	// prior knowledge), as grpc's insecure credentials.
	TLSConfig *tls.Config

	once     sync.Once
	compiled *grpcCompiled
	err      error
}

// GRPCProbe returns a plaintext GRPCCheck of service ("" for the server
// as a whole).
func GRPCProbe(service string) *GRPCCheck { return &GRPCCheck{Service: service} }

type grpcCompiled struct {
	scheme string
	body   []byte // the framed request
	rt     http.RoundTripper
}

// Validate returns an *elb.ConfigError (wrapping elb.ErrInvalidConfig) for the
// first field of c out of range, or nil.
func (c *GRPCCheck) Validate() error {
	if c == nil {
		return errNilProbe
	}
	if !utf8.ValidString(c.Service) {
		return cfgerr.New("Service", c.Service, "must be valid UTF-8")
	}
	return validatePort(c.Port)
}

// grpcServing is the SERVING value of
// grpc.health.v1.HealthCheckResponse.ServingStatus.
const grpcServing = 1

// grpcStatusNames names the values of ServingStatus.
var grpcStatusNames = [...]string{"UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"}

func grpcStatusName(s int32) string {
	if s >= 0 && int(s) < len(grpcStatusNames) {
		return grpcStatusNames[s]
	}
	return "status(" + strconv.Itoa(int(s)) + ")"
}

// grpcNotFound is the grpc-status (code NOT_FOUND) of Check for a service
// the server does not know.
const grpcNotFound = 5

// grpcDeadlineExceeded is the grpc-status of a call whose deadline passed.
const grpcDeadlineExceeded = 4

// Probe calls grpc.health.v1.Health/Check at addr. It fails with
// ErrNotServing (wrapped) if the answer is not SERVING or the service is
// unknown, with the grpc-status and grpc-message of a failed call, or with
// the error of the request.
func (c *GRPCCheck) Probe(ctx context.Context, addr string) error {
	err := c.probe(ctx, addr)
	if err == nil {
		return nil
	}
	// The server may end the stream (RST_STREAM CANCEL, honouring the
	// grpc-timeout sent) before ctx's own timer fires, which on a busy
	// machine can be late: past the deadline, the probe ran out of time
	// all the same.
	switch cerr := ctx.Err(); {
	case cerr != nil && !errors.Is(err, cerr):
		err = fmt.Errorf("%w: %w", cerr, err)
	case cerr == nil:
		if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
			err = fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
		}
	}
	return err
}

func (c *GRPCCheck) probe(ctx context.Context, addr string) error {
	c.once.Do(func() { c.compiled, c.err = c.compile() })
	if c.err != nil {
		return c.err
	}
	gc := c.compiled
	target, err := withPort(addr, c.Port)
	if err != nil {
		return err
	}
	u := url.URL{Scheme: gc.scheme, Host: target, Path: "/grpc.health.v1.Health/Check"}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(gc.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	req.Header.Set("User-Agent", userAgent)
	if d, ok := ctx.Deadline(); ok {
		req.Header.Set("Grpc-Timeout", grpcTimeout(time.Until(d)))
	}
	resp, err := gc.rt.RoundTrip(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("grpc health: http status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/grpc") {
		return fmt.Errorf("grpc health: content-type %q", printable(ct))
	}
	// Read to the end, so that the trailers are in; a response larger
	// than maxBody is not a health check response.
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return fmt.Errorf("grpc health: reading response: %w", err)
	}
	if len(body) > maxBody {
		return errors.New("grpc health: response too large")
	}
	st, ok := resp.Trailer["Grpc-Status"]
	if !ok {
		st, ok = resp.Header["Grpc-Status"] // a trailers-only response
	}
	if !ok || len(st) == 0 {
		return errors.New("grpc health: response has no grpc-status")
	}
	if st[0] != "0" && ctx.Err() != nil {
		// The server gave up at the deadline we sent it, as we did.
		return fmt.Errorf("grpc health: grpc-status %s: %w", printable(st[0]), context.Cause(ctx))
	}
	if st[0] != "0" {
		msg := resp.Trailer.Get("Grpc-Message")
		if msg == "" {
			msg = resp.Header.Get("Grpc-Message")
		}
		msg = grpcMessage(msg)
		code, err := strconv.ParseUint(st[0], 10, 32)
		switch {
		case err != nil:
			return fmt.Errorf("grpc health: grpc-status %q: %s", printable(st[0]), msg)
		case code == grpcNotFound:
			return fmt.Errorf("grpc health: %w (grpc-status %d: %s)", ErrNotServing, code, msg)
		case code == grpcDeadlineExceeded: // the grpc-timeout we sent ran out
			return fmt.Errorf("grpc health: grpc-status %d: %w", code, context.DeadlineExceeded)
		default:
			return fmt.Errorf("grpc health: grpc-status %d: %s", code, msg)
		}
	}
	status, err := parseHealthFrame(body)
	if err != nil {
		return fmt.Errorf("grpc health: %w", err)
	}
	if status != grpcServing {
		return fmt.Errorf("grpc health: %w (status %s)", ErrNotServing, grpcStatusName(status))
	}
	return nil
}

func (c *GRPCCheck) compile() (*grpcCompiled, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	t := newProbeTransport()
	t.Protocols = new(http.Protocols)
	gc := &grpcCompiled{scheme: "http", body: encodeHealthRequest(c.Service), rt: t}
	if c.TLSConfig != nil {
		gc.scheme = "https"
		t.TLSClientConfig = clientTLS(c.TLSConfig, "")
		t.Protocols.SetHTTP2(true)
	} else {
		t.Protocols.SetUnencryptedHTTP2(true)
	}
	return gc, nil
}

// encodeHealthRequest returns a gRPC message (a 5-byte prefix: flag 0, not
// compressed, and the big-endian length) holding the protobuf
// grpc.health.v1.HealthCheckRequest{service: service}.
func encodeHealthRequest(service string) []byte {
	var msg []byte
	if service != "" {
		msg = append(msg, 0x0a) // field 1, wire type 2 (length-delimited)
		msg = binary.AppendUvarint(msg, uint64(len(service)))
		msg = append(msg, service...)
	}
	b := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(b[1:], uint32(len(msg)))
	return append(b, msg...)
}

// parseHealthFrame decodes a response body that must be exactly one
// uncompressed gRPC message holding a HealthCheckResponse, and returns its
// status.
func parseHealthFrame(body []byte) (int32, error) {
	if len(body) < 5 {
		return 0, errors.New("response has no message")
	}
	if body[0] != 0 {
		return 0, fmt.Errorf("response message has flags %#x, want 0 (not compressed)", body[0])
	}
	n := binary.BigEndian.Uint32(body[1:5])
	if uint64(n) != uint64(len(body)-5) {
		return 0, fmt.Errorf("response message length %d, but %d bytes follow", n, len(body)-5)
	}
	return decodeHealthResponse(body[5:])
}

// decodeHealthResponse decodes the protobuf
// grpc.health.v1.HealthCheckResponse and returns its status (field 1, an
// enum), skipping unknown fields. It never panics, whatever b holds.
func decodeHealthResponse(b []byte) (int32, error) {
	var status int32 // UNKNOWN unless set
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, errors.New("malformed response: bad field tag")
		}
		b = b[n:]
		field, wire := tag>>3, tag&7
		if field == 0 || field > 1<<29-1 {
			return 0, fmt.Errorf("malformed response: field number %d", field)
		}
		switch wire {
		case 0: // varint
			v, n := binary.Uvarint(b)
			if n <= 0 {
				return 0, errors.New("malformed response: bad varint")
			}
			b = b[n:]
			if field == 1 {
				status = int32(v) // as protobuf truncates an enum
			}
		case 1: // fixed64
			if len(b) < 8 {
				return 0, errors.New("malformed response: truncated fixed64")
			}
			b = b[8:]
		case 2: // length-delimited
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return 0, errors.New("malformed response: bad length")
			}
			b = b[n+int(l):]
		case 5: // fixed32
			if len(b) < 4 {
				return 0, errors.New("malformed response: truncated fixed32")
			}
			b = b[4:]
		default: // groups (3, 4), long deprecated, and invalid types
			return 0, fmt.Errorf("malformed response: wire type %d", wire)
		}
	}
	return status, nil
}

// grpcTimeout formats d, rounded up, as a grpc-timeout header value: at
// most 8 digits and a unit.
func grpcTimeout(d time.Duration) string {
	if d <= 0 {
		return "1n"
	}
	for _, u := range []struct {
		unit string
		d    time.Duration
	}{{"n", time.Nanosecond}, {"u", time.Microsecond}, {"m", time.Millisecond}, {"S", time.Second}, {"M", time.Minute}} {
		if v := ceilDiv(d, u.d); v <= 99999999 {
			return strconv.FormatInt(v, 10) + u.unit
		}
	}
	return strconv.FormatInt(ceilDiv(d, time.Hour), 10) + "H" // at most 2562048
}

// ceilDiv returns d/u rounded up, for d > 0.
func ceilDiv(d, u time.Duration) int64 {
	v := int64(d / u)
	if d%u != 0 {
		v++
	}
	return v
}

// grpcMessage decodes a percent-encoded grpc-message and makes it fit for
// an error message.
func grpcMessage(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		s = u
	}
	const maxLen = 256
	if len(s) > maxLen {
		s = s[:maxLen] + "..."
	}
	return printable(s)
}

// printable replaces s's control characters and invalid UTF-8 with U+FFFD.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == utf8.RuneError {
			return utf8.RuneError
		}
		return r
	}, s)
}
