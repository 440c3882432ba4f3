package grpcgroup

import (
	"sync/atomic"
	"time"

	v3orcapb "github.com/cncf/xds/go/xds/data/orca/v3"
	"google.golang.org/grpc/orca"

	"github.com/go-elb/elb/balancer"
	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/internal/adapterhook"
)

// DefaultOOBInterval is the interval at which an endpoint is asked for
// out-of-band load reports when OOBLoadReportConfig.Interval is 0: gRPC's
// weighted_round_robin's oobReportingPeriod default.
const DefaultOOBInterval = 10 * time.Second

// The range of OOBLoadReportConfig.Interval.
const (
	minOOBInterval = time.Second
	maxOOBInterval = time.Hour
)

// serverLoad returns the load of an ORCA report: DoneInfo.ServerLoad,
// which gRPC fills from a call's endpoint-load-metrics-bin trailer once
// package orca is linked (this package links it), or an out-of-band
// report. Anything else is no report.
func serverLoad(v any) balancer.ServerLoad {
	lr, _ := v.(*v3orcapb.OrcaLoadReport)
	if lr == nil {
		return balancer.ServerLoad{}
	}
	r := balancer.ServerLoad{
		CPUUtilization:         lr.GetCpuUtilization(),
		ApplicationUtilization: lr.GetApplicationUtilization(),
		MemUtilization:         lr.GetMemUtilization(),
		QPS:                    lr.GetRpsFractional(),
		EPS:                    lr.GetEps(),
	}
	if r.QPS == 0 {
		r.QPS = float64(lr.GetRps()) //lint:ignore SA1019 the deprecated integer rate, when it is all there is
	}
	return r
}

// oobTarget is where an endpoint's out-of-band reports go: its member.
type oobTarget struct {
	g  *group.Group
	id string
}

// oobListener receives an endpoint's out-of-band reports. orca calls it
// holding its producer's lock, which stopping a listener takes too: so it
// takes no lock of the balancer, and finds its member through target.
type oobListener struct {
	target atomic.Pointer[oobTarget]
}

func (l *oobListener) OnLoadReport(lr *v3orcapb.OrcaLoadReport) {
	if t := l.target.Load(); t != nil {
		_ = adapterhook.RecordServerLoad(t.g, t.id, serverLoad(lr)) // a member gone: the report with it
	}
}

// updateOOB starts, restarts or stops the endpoint's out-of-band listener
// as cfg says, on its READY connection, and points it at its member. The
// caller holds elbBalancer.mu.
func (ep *endpoint) updateOOB(g *group.Group, cfg *Config) {
	interval := time.Duration(0)
	if cfg != nil && cfg.OOBLoadReport != nil && ep.sc != nil && g != nil {
		interval = time.Duration(cfg.OOBLoadReport.Interval)
		if interval == 0 {
			interval = DefaultOOBInterval
		}
	}
	if ep.oob != nil && ep.oobInterval != interval {
		ep.stopOOB()
	}
	if interval == 0 {
		return
	}
	if ep.oob == nil {
		// The target first: the stream starts at once, and a report that
		// found no target would be lost, the next one a server's interval
		// later (orca's servers send none more often than every 30 s by
		// default).
		ep.oob = new(oobListener)
		ep.oob.target.Store(&oobTarget{g: g, id: ep.id})
		ep.oobStop = orca.RegisterOOBListener(ep.sc, ep.oob, orca.OOBListenerOptions{ReportInterval: interval})
		ep.oobInterval = interval
	}
	if t := ep.oob.target.Load(); t == nil || t.g != g || t.id != ep.id {
		ep.oob.target.Store(&oobTarget{g: g, id: ep.id})
	}
}

// stopOOB stops the endpoint's out-of-band listener, if any. The caller
// holds elbBalancer.mu.
func (ep *endpoint) stopOOB() {
	if ep.oob != nil {
		ep.oob.target.Store(nil)
		ep.oobStop()
	}
	ep.oob, ep.oobStop, ep.oobInterval = nil, nil, 0
}

var _ orca.OOBListener = (*oobListener)(nil)
