package httpgroup

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
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
