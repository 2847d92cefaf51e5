package web

import (
	_ "embed"
	"net/http"
)

// openAPIDoc is the OpenAPI 3 document of this server's HTTP API, served at
// GET /api/v1/openapi.json. TestOpenAPICoversEveryRoute keeps it and the
// routes in step: every route registered in this package is documented, and
// every documented operation answers.
//
//go:embed openapi.json
var openAPIDoc []byte

// registerOpenAPI adds GET /api/v1/openapi.json (a read: the read token when
// one is set).
func (s *Server) registerOpenAPI(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(openAPIDoc)
	})
}
