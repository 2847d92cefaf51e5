package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"net/http"
	"regexp"
	"strings"
)

// page holds the dashboard: one HTML file with its CSS and JS inline, so the
// page works offline and needs nothing but this binary.
//
//go:embed index.html
var page embed.FS

var (
	dashboardHTML = mustRead("index.html")
	// dashboardCSP allows exactly the page's own inline script and style
	// (by hash), connections back to this server, and nothing else.
	dashboardCSP = contentSecurityPolicy(dashboardHTML)
)

func mustRead(name string) []byte {
	b, err := page.ReadFile(name)
	if err != nil {
		panic(err) // the file is embedded at build time
	}
	return b
}

var inlineRe = regexp.MustCompile(`(?s)<(script|style)>(.*?)</(?:script|style)>`)

func contentSecurityPolicy(page []byte) string {
	var scripts, styles []string
	for _, m := range inlineRe.FindAllSubmatch(page, -1) {
		sum := sha256.Sum256(m[2])
		h := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
		if bytes.Equal(m[1], []byte("script")) {
			scripts = append(scripts, h)
		} else {
			styles = append(styles, h)
		}
	}
	return "default-src 'none'; script-src " + strings.Join(scripts, " ") + "; style-src " + strings.Join(styles, " ") +
		"; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

// registerDashboard adds the dashboard (GET /), its data
// (GET /api/v1/dashboard) and the live stream (GET /api/v1/events).
func (s *Server) registerDashboard(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", dashboardCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		_, _ = w.Write(dashboardHTML)
	})
	mux.HandleFunc("GET /api/v1/dashboard", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Dashboard())
	})
	mux.HandleFunc("GET /api/v1/events", s.handleEvents)
}
