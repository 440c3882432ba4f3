// Package grpcreport is the gRPC half of package loadreport: it sends a
// loadreport.Reporter's reports to gRPC clients as ORCA load reports, with
// grpc-go's orca package: per call, in the endpoint-load-metrics-bin
// trailer ([ServerOptions]), and out of band, on the
// xds.service.orca.v3.OpenRcaService stream a client opens per connection
// ([Register]). elb's grpcgroup, gRPC's weighted_round_robin and Envoy
// read both.
package grpcreport

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/orca"
	"google.golang.org/grpc/status"

	"github.com/go-elb/elb/loadreport"
)

// ServerOptions returns the options of a grpc.Server whose calls r counts
// and whose every call's trailer carries r's report as of the call's end
// (the call counted in flight): pass them to grpc.NewServer, first. A
// handler may add or override per-call metrics through
// orca.CallMetricsRecorderFromContext. A call that fails with UNKNOWN,
// DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INTERNAL, UNAVAILABLE or
// DATA_LOSS counts as failed (eps): the server's faults, not the
// client's.
func ServerOptions(r *loadreport.Reporter) []grpc.ServerOption {
	p := provider{r}
	return []grpc.ServerOption{
		// Outermost: count the call around orca's interceptor, which
		// writes the trailer when the handler returns.
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			start := r.Start()
			resp, err := h(ctx, req)
			r.Finish(start, serverFault(err))
			return resp, err
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			start := r.Start()
			err := h(srv, ss)
			r.Finish(start, serverFault(err))
			return err
		}),
		orca.CallMetricsServerOption(p),
		// Innermost: orca writes a trailer only for a call whose recorder
		// was asked for.
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			orca.CallMetricsRecorderFromContext(ctx)
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			orca.CallMetricsRecorderFromContext(ss.Context())
			return h(srv, ss)
		}),
	}
}

// Register registers ORCA's out-of-band service on s, streaming r's
// reports to each client that asks, at the client's interval but no more
// often than minInterval. 0 means orca's default minimum, 30s; grpc-go's
// orca raises any value under 30s to 30s.
func Register(s grpc.ServiceRegistrar, r *loadreport.Reporter, minInterval time.Duration) error {
	return orca.Register(s, orca.ServiceOptions{ServerMetricsProvider: provider{r}, MinReportingInterval: minInterval})
}

// provider is a Reporter as orca's source of server metrics.
type provider struct{ r *loadreport.Reporter }

// ServerMetrics returns the report as of now, with orca's -1 for values
// not reported.
func (p provider) ServerMetrics() *orca.ServerMetrics {
	var named [2]loadreport.Metric
	rep := p.r.Report(named[:0])
	sm := &orca.ServerMetrics{
		CPUUtilization: -1,
		MemUtilization: -1,
		AppUtilization: rep.ApplicationUtilization,
		QPS:            rep.QPS,
		EPS:            rep.EPS,
		Utilization:    map[string]float64{},
		RequestCost:    map[string]float64{},
		NamedMetrics:   make(map[string]float64, len(rep.Named)),
	}
	if rep.CPUUtilization != 0 {
		sm.CPUUtilization = rep.CPUUtilization
	}
	if rep.MemUtilization != 0 {
		sm.MemUtilization = rep.MemUtilization
	}
	for _, m := range rep.Named {
		sm.NamedMetrics[m.Name] = m.Value
	}
	return sm
}

// serverFault reports whether err is a status that is the server's fault.
func serverFault(err error) bool {
	switch status.Code(err) {
	case codes.Unknown, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Internal, codes.Unavailable, codes.DataLoss:
		return true
	}
	return false
}
