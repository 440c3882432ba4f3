package httpgroup

import (
	"net/http"
	"strings"
	"time"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/sticky"
)

// afterSticky does what session affinity asks of a response: set the
// load-balancer cookie the pick issued (sticky.Cookie), and bind a session
// the response starts (sticky.AppCookie). (The pick itself moved the
// binding of a request retried on another backend.)
func afterSticky(req *http.Request, resp *http.Response, p group.Pick, cfg *sticky.Config) {
	switch cfg.Mode {
	case sticky.Cookie:
		v := p.Cookie()
		if v == "" {
			return
		}
		c := http.Cookie{
			Name:     cfg.CookieName,
			Value:    v,
			Path:     "/",
			MaxAge:   int(cfg.TTL / time.Second),
			HttpOnly: true,
			SameSite: http.SameSiteLaxMode,
			Secure:   req.URL.Scheme == "https" || req.TLS != nil,
		}
		if resp.Header == nil {
			resp.Header = make(http.Header)
		}
		resp.Header.Add("Set-Cookie", c.String())
	case sticky.AppCookie:
		if v := setCookieValue(resp.Header, cfg.CookieName); v != "" {
			p.Bind(v)
		}
	}
}

// cookieValue returns the value of the request cookie name in h, or "".
// Unlike Request.Cookie it allocates nothing. The value is not validated:
// the group treats it as untrusted anyway.
func cookieValue(h http.Header, name string) string {
	for _, line := range h["Cookie"] {
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			k, v, ok := strings.Cut(part, "=")
			if !ok || k != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v
		}
	}
	return ""
}

// setCookieValue returns the value that the response header h sets for
// the cookie name, or "" if it sets none or deletes it.
func setCookieValue(h http.Header, name string) string {
	var value string
	for _, line := range h["Set-Cookie"] {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, name) || !strings.HasPrefix(strings.TrimLeft(line[len(name):], " "), "=") {
			continue // not it: skip parsing
		}
		c, err := http.ParseSetCookie(line)
		if err != nil || c.Name != name {
			continue
		}
		if c.Value == "" || c.MaxAge < 0 || (!c.Expires.IsZero() && c.Expires.Before(time.Now())) {
			value = "" // deleted
			continue
		}
		value = c.Value
	}
	return value
}

// firstEntry returns the first entry of a comma-separated header value,
// such as the client's address in X-Forwarded-For.
func firstEntry(v string) string {
	v, _, _ = strings.Cut(v, ",")
	return strings.TrimSpace(v)
}
