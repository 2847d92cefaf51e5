package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// apiMaxBody bounds every request body (the webhook's own bound is the same).
const apiMaxBody = 1 << 20

// routeClass is what a request needs to pass the guard.
type routeClass int

const (
	classOpen  routeClass = iota // probes, the webhook (own HMAC), /metrics unless MetricsAuth
	classRead                    // GET and HEAD: the read token, when one is set
	classWrite                   // everything else: the API token, always
)

var (
	errNoWriteToken = errors.New("mutating endpoints are disabled: start the orchestrator with api_token_file (or VMFLEET_API_TOKEN)")
	errBadToken     = errors.New("a valid bearer token is required")
)

// classify sorts a request. Only exact paths are open, so an unclean path
// (a trailing slash, "..") falls into a guarded class.
func (s *Server) classify(r *http.Request) routeClass {
	p := r.URL.Path
	switch {
	case p == "/healthz" || p == "/readyz":
		return classOpen
	case p == "/webhooks/buildkite" && r.Method == http.MethodPost:
		return classOpen
	case p == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		// The dashboard page holds no data (it reads the API, which is
		// guarded); with a read token it asks for it and keeps it in a cookie.
		return classOpen
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		if p == "/metrics" && !s.cfg.MetricsAuth {
			return classOpen
		}
		return classRead
	}
	return classWrite
}

// guard bounds every request body and checks bearer tokens by route class
// before the mux sees the request, so an endpoint added later is guarded too.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, apiMaxBody)
		}
		switch s.classify(r) {
		case classRead:
			if s.cfg.APIReadToken != "" && !bearerIs(r, s.cfg.APIReadToken) && !bearerIs(r, s.cfg.APIToken) &&
				!cookieIs(r, s.cfg.APIReadToken) {
				s.deny(w, r, "read", http.StatusUnauthorized, errBadToken)
				return
			}
		case classWrite:
			if s.cfg.APIToken == "" {
				s.deny(w, r, "write", http.StatusForbidden, errNoWriteToken)
				return
			}
			if !bearerIs(r, s.cfg.APIToken) {
				s.deny(w, r, "write", http.StatusUnauthorized, errBadToken)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// deny answers a refused request and logs it once a minute per client; the
// token presented is never logged.
func (s *Server) deny(w http.ResponseWriter, r *http.Request, class string, status int, err error) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="vmfleet"`)
	}
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i > 0 {
		host = host[:i]
	}
	if s.rejectLog.Allow("http "+host, s.o.Now()) {
		s.o.Logger().Warn("HTTP request refused", "class", class, "status", status, "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
	}
	writeError(w, status, err)
}

// ReadTokenCookie carries the read token for browsers: EventSource (the
// dashboard's live updates) cannot send an Authorization header. It is
// accepted for reads only, never for mutating endpoints, so it gives a
// cross-site request nothing to forge.
const ReadTokenCookie = "vmfleet_read_token"

// cookieIs reports whether the request's read-token cookie is want (non-empty).
func cookieIs(r *http.Request, want string) bool {
	c, err := r.Cookie(ReadTokenCookie)
	if err != nil || want == "" {
		return false
	}
	got, err := url.PathUnescape(c.Value)
	if err != nil {
		return false
	}
	return tokenEqual(got, want)
}

// bearerIs reports whether the request's bearer token is want (non-empty),
// comparing digests in constant time so neither content nor length leaks.
func bearerIs(r *http.Request, want string) bool {
	if want == "" {
		return false
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	return tokenEqual(got, want)
}

// tokenEqual compares digests in constant time so neither content nor
// length leaks.
func tokenEqual(got, want string) bool {
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}
