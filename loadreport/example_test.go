package loadreport_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/go-elb/elb/loadreport"
)

// A server behind the middleware: every response carries its load.
func ExampleReporter_Handler() {
	rep, err := loadreport.New(loadreport.Config{Capacity: 4}) // 4 requests in flight = fully utilized
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(rep.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	})))
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	// One request in flight (this one); no utilization or rate yet: they
	// are those of the last whole window (1s), and the first has not
	// ended.
	fmt.Println(resp.Header.Get(loadreport.Header))
	// Output: TEXT named_metrics.in_flight=1
}

// A client reads the header in any of its encodings.
func ExampleParse() {
	load, err := loadreport.Parse("TEXT cpu_utilization=0.3, mem_utilization=0.8, rps_fractional=10, named_metrics.foo=123")
	if err != nil {
		panic(err)
	}
	fmt.Println(load.Utilization(), load.MemUtilization, load.QPS)
	_, err = loadreport.Parse("TEXT cpu_utilization=NaN")
	fmt.Println(err)
	// Output:
	// 0.3 0.8 10
	// malformed load report: cpu_utilization: NaN is not a number from 0 to 1e+12
}
