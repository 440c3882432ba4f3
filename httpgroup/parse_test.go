package httpgroup

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/go-elb/elb/loadreport"
)

func TestCookieValue(t *testing.T) {
	cases := []struct {
		lines []string
		want  string
	}{
		{nil, ""},
		{[]string{"ELB=abc"}, "abc"},
		{[]string{"a=1; ELB=abc; b=2"}, "abc"},
		{[]string{"a=1;ELB=abc"}, "abc"},
		{[]string{`ELB="abc"`}, "abc"},
		{[]string{"XELB=no; ELBX=no"}, ""},
		{[]string{"a=1", "ELB=second-line"}, "second-line"},
		{[]string{"ELB"}, ""},
		{[]string{"ELB="}, ""},
		{[]string{";;  ELB=x ;"}, "x"},
	}
	for _, c := range cases {
		h := http.Header{"Cookie": c.lines}
		assert.Equal(t, c.want, cookieValue(h, "ELB"), "%q", c.lines)
		if c.want != "" { // agrees with net/http
			r := &http.Request{Header: h}
			got, err := r.Cookie("ELB")
			if assert.NoError(t, err) {
				assert.Equal(t, got.Value, c.want)
			}
		}
	}
	h := http.Header{"Cookie": {"a=1; ELB=abc; b=2"}}
	assert.Zero(t, testing.AllocsPerRun(100, func() { cookieValue(h, "ELB") }), "allocation-free")
}

func TestSetCookieValue(t *testing.T) {
	cases := []struct {
		lines []string
		want  string
	}{
		{nil, ""},
		{[]string{"JSESSIONID=s1; Path=/; HttpOnly"}, "s1"},
		{[]string{"other=1", "JSESSIONID=s2"}, "s2"},
		{[]string{"JSESSIONIDX=s1"}, ""},
		{[]string{"JSESSIONID=; Max-Age=0"}, ""},
		{[]string{"JSESSIONID=s1; Max-Age=0"}, ""},
		{[]string{"JSESSIONID=s1; Expires=Thu, 01 Jan 1970 00:00:00 GMT"}, ""},
		{[]string{"JSESSIONID=s1", "JSESSIONID=s3"}, "s3"},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, setCookieValue(http.Header{"Set-Cookie": c.lines}, "JSESSIONID"), "%q", c.lines)
	}
}

func TestFirstEntry(t *testing.T) {
	assert.Equal(t, "10.0.0.1", firstEntry("10.0.0.1"))
	assert.Equal(t, "10.0.0.1", firstEntry(" 10.0.0.1 , 10.0.0.2"))
	assert.Equal(t, "", firstEntry(""))
}

// loadHeader and parseLoad read what the Transport's one-step reading
// did: Endpoint-Load-Metrics if it has one value, else
// Endpoint-Load-Metrics-Bin if it has one, malformed reports ignored.
func TestLoadHeader(t *testing.T) {
	var pb [9]byte // OrcaLoadReport{cpu_utilization: 0.5}
	pb[0] = 1<<3 | 1
	binary.LittleEndian.PutUint64(pb[1:], math.Float64bits(0.5))
	bin := base64.StdEncoding.EncodeToString(pb[:])
	text := "TEXT cpu_utilization=0.25"
	cases := []struct {
		h    http.Header
		want float64 // CPUUtilization
	}{
		{nil, 0},
		{http.Header{}, 0},
		{http.Header{"Content-Type": {"text/plain"}}, 0},
		{http.Header{loadreport.Header: {text}}, 0.25},
		{http.Header{loadreport.HeaderBin: {bin}}, 0.5},
		{http.Header{loadreport.Header: {text}, loadreport.HeaderBin: {bin}}, 0.25},
		{http.Header{loadreport.Header: {text, text}, loadreport.HeaderBin: {bin}}, 0.5}, // two: not one report
		{http.Header{loadreport.Header: {""}, loadreport.HeaderBin: {bin}}, 0},
		{http.Header{loadreport.Header: {"TEXT cpu_utilization=NaN"}}, 0},
		{http.Header{loadreport.HeaderBin: {"!!"}}, 0},
		{http.Header{loadreport.HeaderBin: {bin, bin}}, 0},
	}
	for _, c := range cases {
		v, isBin := loadHeader(c.h)
		assert.Equal(t, c.want, parseLoad(v, isBin).CPUUtilization, "%v", c.h)
	}
}
