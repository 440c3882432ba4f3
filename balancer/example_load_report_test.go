package balancer_test

import (
	"fmt"
	"time"

	"github.com/go-elb/elb/balancer"
)

// Three servers report the same qps at utilizations 0.2, 0.4 and 0.8:
// A58's weights qps/utilization give them 4:2:1 of the requests.
func ExampleLoadReportWRR() {
	now := time.Unix(1_700_000_000, 0)
	eps := make([]balancer.Endpoint, 3)
	for i, util := range []float64{0.2, 0.4, 0.8} {
		eps[i] = balancer.Endpoint{ID: fmt.Sprint("s", i), Weight: 1, Load: new(balancer.Load)}
		// What an adapter does with each response's report.
		eps[i].Load.RecordServerLoad(balancer.ServerLoad{ApplicationUtilization: util, QPS: 100, Received: now})
	}
	p := balancer.LoadReportWRR{BlackoutPeriod: -1, Now: func() time.Time { return now }}.Build(eps)
	counts := make([]int, 3)
	for range 700 {
		counts[p.Pick(balancer.Request{})]++
	}
	fmt.Println(counts)
	// Output: [400 200 100]
}
