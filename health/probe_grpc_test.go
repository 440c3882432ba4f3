package health

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	grpchealth "google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"
)

// grpcServer starts a grpc-go server on 127.0.0.1 serving hs (if not nil)
// as its health service.
func grpcServer(t *testing.T, hs healthpb.HealthServer, opts ...grpc.ServerOption) (*grpc.Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := grpc.NewServer(opts...)
	if hs != nil {
		healthpb.RegisterHealthServer(s, hs)
	}
	go s.Serve(ln)
	t.Cleanup(s.Stop)
	return s, ln.Addr().String()
}

func TestGRPCProbe(t *testing.T) {
	hs := grpchealth.NewServer()
	s, addr := grpcServer(t, hs)

	// The server as a whole: SERVING from the start.
	p := GRPCProbe("")
	require.NoError(t, p.Validate())
	require.NoError(t, p.Probe(probeCtx(t, prompt), addr))
	require.NoError(t, new(GRPCCheck).Probe(probeCtx(t, prompt), addr))

	svc := GRPCProbe("helloworld.Greeter")
	hs.SetServingStatus("helloworld.Greeter", healthpb.HealthCheckResponse_SERVING)
	require.NoError(t, svc.Probe(probeCtx(t, prompt), addr))

	hs.SetServingStatus("helloworld.Greeter", healthpb.HealthCheckResponse_NOT_SERVING)
	err := svc.Probe(probeCtx(t, prompt), addr)
	require.ErrorIs(t, err, ErrNotServing)
	assert.EqualError(t, err, "grpc health: not serving (status NOT_SERVING)")
	require.NoError(t, p.Probe(probeCtx(t, prompt), addr), "the server as a whole still serves")

	hs.SetServingStatus("helloworld.Greeter", healthpb.HealthCheckResponse_SERVICE_UNKNOWN)
	err = svc.Probe(probeCtx(t, prompt), addr)
	require.ErrorIs(t, err, ErrNotServing)
	assert.Contains(t, err.Error(), "SERVICE_UNKNOWN")

	// A service the server does not know: grpc-status 5 (NOT_FOUND).
	err = GRPCProbe("no.Such").Probe(probeCtx(t, prompt), addr)
	require.ErrorIs(t, err, ErrNotServing)
	assert.EqualError(t, err, "grpc health: not serving (grpc-status 5: unknown service)")

	// Shutdown sets every service, "" too, NOT_SERVING.
	hs.Shutdown()
	err = p.Probe(probeCtx(t, prompt), addr)
	require.ErrorIs(t, err, ErrNotServing)
	assert.Contains(t, err.Error(), "NOT_SERVING")

	s.Stop()
	err = p.Probe(probeCtx(t, prompt), addr)
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrNotServing)
	assert.Contains(t, err.Error(), "refused")
}

func TestGRPCProbeUnimplemented(t *testing.T) {
	_, addr := grpcServer(t, nil)
	err := GRPCProbe("").Probe(probeCtx(t, prompt), addr)
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrNotServing)
	assert.Contains(t, err.Error(), "grpc health: grpc-status 12: unknown service grpc.health.v1.Health")
}

func TestGRPCProbePort(t *testing.T) {
	_, live := grpcServer(t, grpchealth.NewServer())
	dead := deadAddr(t)
	require.NoError(t, (&GRPCCheck{Port: portOf(t, live)}).Probe(probeCtx(t, prompt), dead))
	require.Error(t, (&GRPCCheck{Port: portOf(t, dead)}).Probe(probeCtx(t, prompt), live))
}

// hangingHealth is a health service whose Check waits for the call to end.
type hangingHealth struct {
	healthpb.UnimplementedHealthServer
	hadDeadline atomic.Bool
}

func (h *hangingHealth) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	_, ok := ctx.Deadline()
	h.hadDeadline.Store(ok)
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestGRPCProbeHangs(t *testing.T) {
	hh := new(hangingHealth)
	_, addr := grpcServer(t, hh)
	start := time.Now()
	err := GRPCProbe("").Probe(probeCtx(t, 200*time.Millisecond), addr)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), prompt)
	assert.True(t, hh.hadDeadline.Load(), "the probe sends grpc-timeout")
}

// lateTimer is a context whose deadline passes while its timer has not
// fired yet, as on a busy machine.
type lateTimer struct {
	context.Context
	deadline time.Time
}

func (c lateTimer) Deadline() (time.Time, bool) { return c.deadline, true }

// The server honours grpc-timeout and resets the stream before ctx's own
// timer fires: the probe still reports that it ran out of time.
func TestGRPCProbeHangsWithALateTimer(t *testing.T) {
	_, addr := grpcServer(t, new(hangingHealth))
	ctx := lateTimer{Context: context.Background(), deadline: time.Now().Add(50 * time.Millisecond)}
	err := GRPCProbe("").Probe(ctx, addr)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestGRPCProbeTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	creds := credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}})
	_, addr := grpcServer(t, grpchealth.NewServer(), grpc.Creds(creds))

	require.NoError(t, (&GRPCCheck{TLSConfig: &tls.Config{RootCAs: pool}}).Probe(probeCtx(t, prompt), addr))

	err := (&GRPCCheck{TLSConfig: &tls.Config{}}).Probe(probeCtx(t, prompt), addr)
	require.Error(t, err, "the system roots do not know the certificate")
	assert.Contains(t, err.Error(), "certificate")

	require.Error(t, GRPCProbe("").Probe(probeCtx(t, prompt), addr), "plaintext to a TLS server")
}

// selfSigned returns a self-signed certificate for 127.0.0.1 and a pool
// that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "elb health test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// h2cServer serves handler over plaintext HTTP/2 on 127.0.0.1, to answer
// probes with responses no gRPC server sends.
func h2cServer(t *testing.T, handler http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(handler)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// grpcFrame frames msg as a gRPC message.
func grpcFrame(flag byte, msg []byte) []byte {
	b := []byte{flag, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(len(msg)))
	return append(b, msg...)
}

func TestGRPCProbeResponses(t *testing.T) {
	serving := grpcFrame(0, []byte{0x08, 0x01})
	for _, tc := range []struct {
		name    string
		status  int
		ctype   string
		header  map[string]string // response headers
		body    []byte
		trailer map[string]string
		want    string // error; "" to pass
	}{
		{"serving", 200, "application/grpc", nil, serving, map[string]string{"Grpc-Status": "0"}, ""},
		{"proto content type", 200, "application/grpc+proto", nil, serving, map[string]string{"Grpc-Status": "0"}, ""},
		{"unknown fields", 200, "application/grpc", nil,
			grpcFrame(0, []byte{0x10, 0x96, 0x01, 0x1a, 0x02, 'h', 'i', 0x08, 0x01, 0x25, 1, 2, 3, 4, 0x29, 1, 2, 3, 4, 5, 6, 7, 8}),
			map[string]string{"Grpc-Status": "0"}, ""},
		{"trailers-only", 200, "application/grpc", map[string]string{"Grpc-Status": "14", "Grpc-Message": "no%20backend%0A"}, nil, nil,
			"grpc health: grpc-status 14: no backend\uFFFD"},
		{"status in trailer", 200, "application/grpc", nil, nil, map[string]string{"Grpc-Status": "7", "Grpc-Message": "denied"},
			"grpc health: grpc-status 7: denied"},
		{"unknown", 200, "application/grpc", nil, grpcFrame(0, nil), map[string]string{"Grpc-Status": "0"},
			"grpc health: not serving (status UNKNOWN)"},
		{"odd status", 200, "application/grpc", nil, grpcFrame(0, []byte{0x08, 0x09}), map[string]string{"Grpc-Status": "0"},
			"grpc health: not serving (status status(9))"},
		{"no grpc-status", 200, "application/grpc", nil, serving, nil, "grpc health: response has no grpc-status"},
		{"bad grpc-status", 200, "application/grpc", nil, serving, map[string]string{"Grpc-Status": "x"}, `grpc health: grpc-status "x": `},
		{"http status", 404, "application/grpc", nil, nil, nil, "grpc health: http status 404"},
		{"content type", 200, "text/html", nil, serving, map[string]string{"Grpc-Status": "0"}, `grpc health: content-type "text/html"`},
		{"compressed", 200, "application/grpc", nil, grpcFrame(1, []byte{0x08, 0x01}), map[string]string{"Grpc-Status": "0"},
			"grpc health: response message has flags 0x1, want 0 (not compressed)"},
		{"no message", 200, "application/grpc", nil, nil, map[string]string{"Grpc-Status": "0"}, "grpc health: response has no message"},
		{"two messages", 200, "application/grpc", nil, append(serving, serving...), map[string]string{"Grpc-Status": "0"},
			"grpc health: response message length 2, but 9 bytes follow"},
		{"truncated", 200, "application/grpc", nil, serving[:6], map[string]string{"Grpc-Status": "0"},
			"grpc health: response message length 2, but 1 bytes follow"},
		{"malformed", 200, "application/grpc", nil, grpcFrame(0, []byte{0x08}), map[string]string{"Grpc-Status": "0"},
			"grpc health: malformed response: bad varint"},
		{"too large", 200, "application/grpc", nil, grpcFrame(0, bytes.Repeat([]byte{0x08, 0x01}, 4<<10)), map[string]string{"Grpc-Status": "0"},
			"grpc health: response too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var req atomic.Pointer[http.Request]
			var reqBody atomic.Pointer[[]byte]
			addr := h2cServer(t, func(w http.ResponseWriter, r *http.Request) {
				b, _ := readAll(r)
				req.Store(r)
				reqBody.Store(&b)
				for k := range tc.trailer {
					w.Header().Add("Trailer", k)
				}
				w.Header().Set("Content-Type", tc.ctype)
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				w.Write(tc.body)
				for k, v := range tc.trailer {
					w.Header().Set(k, v)
				}
			})
			err := GRPCProbe("svc").Probe(probeCtx(t, prompt), addr)
			if tc.want == "" {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
				assert.True(t, strings.HasPrefix(err.Error(), tc.want), "error %q, want %q", err, tc.want)
			}
			r := req.Load()
			require.NotNil(t, r)
			assert.Equal(t, "HTTP/2.0", r.Proto)
			assert.Equal(t, http.MethodPost, r.Method)
			assert.Equal(t, "/grpc.health.v1.Health/Check", r.URL.Path)
			assert.Equal(t, "application/grpc", r.Header.Get("Content-Type"))
			assert.Equal(t, "trailers", r.Header.Get("Te"))
			assert.Equal(t, grpcFrame(0, []byte{0x0a, 3, 's', 'v', 'c'}), *reqBody.Load())
		})
	}
}

func readAll(r *http.Request) ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(r.Body)
	return b.Bytes(), err
}

func TestEncodeHealthRequest(t *testing.T) {
	for _, svc := range []string{"", "a", "helloworld.Greeter", strings.Repeat("s", 300), "héllo"} {
		b := encodeHealthRequest(svc)
		require.GreaterOrEqual(t, len(b), 5)
		assert.Equal(t, byte(0), b[0])
		assert.Equal(t, uint32(len(b)-5), binary.BigEndian.Uint32(b[1:5]))
		var m healthpb.HealthCheckRequest
		require.NoError(t, proto.Unmarshal(b[5:], &m))
		assert.Equal(t, svc, m.GetService())
	}
}

func TestDecodeHealthResponse(t *testing.T) {
	for st := range int32(4) {
		b, err := proto.Marshal(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_ServingStatus(st)})
		require.NoError(t, err)
		got, err := decodeHealthResponse(b)
		require.NoError(t, err)
		assert.Equal(t, st, got)
	}
	got, err := decodeHealthResponse([]byte{0x08, 0xff, 0xff, 0xff, 0xff, 0x0f}) // -1 as an int32 varint (5 bytes)
	require.NoError(t, err)
	assert.Equal(t, int32(-1), got)
	for _, b := range [][]byte{
		{0x00},          // field 0
		{0x80},          // truncated tag
		{0x0b, 0x0c},    // group
		{0x0f},          // wire type 7
		{0x0a, 0x05, 1}, // length beyond the end
		{0x09, 1, 2},    // truncated fixed64
		{0x0d, 1},       // truncated fixed32
		{0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},       // huge length
		{0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, // varint too long
	} {
		_, err := decodeHealthResponse(b)
		assert.Error(t, err, "% x", b)
	}
}

func TestGRPCTimeout(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second:             "1n",
		0:                        "1n",
		time.Nanosecond:          "1n",
		3 * time.Second:          "3000000u",
		100 * time.Second:        "100000m",
		time.Duration(1<<63 - 1): "2562048H",
	} {
		assert.Equal(t, want, grpcTimeout(d), "%v", d)
	}
}

func TestGRPCCheckValidate(t *testing.T) {
	assert.NoError(t, (&GRPCCheck{Service: "a.B", Port: 50051, TLSConfig: &tls.Config{}}).Validate())
	requireConfigError(t, (&GRPCCheck{Service: "a\xffb"}).Validate(), "Service")
	requireConfigError(t, (&GRPCCheck{Port: 70000}).Validate(), "Port")
}

func FuzzDecodeHealthResponse(f *testing.F) {
	for _, seed := range [][]byte{
		nil, {0x08, 0x01}, {0x08, 0x02}, {0x08, 0x03}, {0x08, 0x00},
		{0x10, 0x96, 0x01, 0x1a, 0x02, 'h', 'i', 0x08, 0x01},
		{0x0a, 0x05, 1}, {0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		grpcFrame(0, []byte{0x08, 0x01}), {0x0b, 0x0c}, {0x80},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := decodeHealthResponse(b)
		_, _ = parseHealthFrame(b)
		if err != nil {
			return
		}
		// The last value of a field wins.
		st2, err := decodeHealthResponse(append(b[:len(b):len(b)], 0x08, 0x01))
		if err != nil || st2 != grpcServing {
			t.Fatalf("decode(% x 08 01) = %d, %v; want SERVING", b, st2, err)
		}
		// A response that decodes decodes the same framed.
		st3, err := parseHealthFrame(grpcFrame(0, b))
		if err != nil || st3 != st {
			t.Fatalf("parseHealthFrame(frame(% x)) = %d, %v; want %d", b, st3, err, st)
		}
	})
}
