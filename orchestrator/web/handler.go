package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/vmfleet/vmfleet/orchestrator"
	"github.com/vmfleet/vmfleet/orchestrator/api"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
)

// Handler serves the read API, the metrics, the operators' endpoints (retry,
// spec set, prune), the dashboard and the Buildkite webhook receiver, behind
// the guard.
func (s *Server) Handler() http.Handler {
	o := s.o
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !o.Ready() {
			writeJSON(w, http.StatusServiceUnavailable, api.ReadyResponse{Status: api.ReadyCatchingUp, LeaderStatus: o.Leadership()})
			return
		}
		writeJSON(w, http.StatusOK, api.ReadyResponse{Status: api.ReadyReady, LeaderStatus: o.Leadership()})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(o.Registry(), promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /api/v1/hosts", s.handleHosts)       // hosts.go
	mux.HandleFunc("GET /api/v1/hosts/{host}", s.handleHost) // hosts.go
	mux.HandleFunc("GET /api/v1/builds", s.handleBuilds)     // builds.go
	mux.HandleFunc("GET /api/v1/spec", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, o.Spec())
	})
	mux.HandleFunc("GET /api/v1/leader", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, o.Leadership())
	})
	mux.HandleFunc("POST /api/v1/spec", s.handleSpecSet)
	mux.HandleFunc("GET /api/v1/spec/next", s.handleSpecNext) // spec.go
	mux.HandleFunc("POST /api/v1/spec/next", s.handleSpecNext)
	mux.HandleFunc("DELETE /api/v1/spec/next", s.handleSpecNext)
	mux.HandleFunc("POST /api/v1/spec/promote", s.handleSpecPromote)
	mux.HandleFunc("GET /api/v1/spec/history", s.handleSpecHistory) // spec_history.go
	mux.HandleFunc("POST /api/v1/spec/rollback", s.handleSpecRollback)
	mux.HandleFunc("POST /api/v1/hosts/{host}/prune", s.handlePrune)
	mux.HandleFunc("POST /api/v1/hosts/{host}/forget", s.handleForget) // forget.go
	mux.HandleFunc("POST /api/v1/hosts/{host}/drain", s.handleDrain)   // drain.go
	mux.HandleFunc("POST /api/v1/hosts/{host}/resume", s.handleDrain)
	mux.HandleFunc("GET /api/v1/prunes", s.handlePrunes)
	mux.HandleFunc("POST /api/v1/builds/{rest...}", s.handleRetry)
	mux.HandleFunc("POST /webhooks/buildkite", s.handleWebhook)
	s.registerDashboard(mux) // dashboard_http.go
	s.registerOpenAPI(mux)   // openapi.go
	return s.guard(mux)
}

// handleRetry is POST /api/v1/builds/{key}/retry (the key may hold '/').
func (s *Server) handleRetry(w http.ResponseWriter, r *http.Request) {
	key, ok := strings.CutSuffix(r.PathValue("rest"), "/retry")
	if !ok || key == "" {
		http.NotFound(w, r)
		return
	}
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="vmfleet"`)
		writeError(w, http.StatusUnauthorized, errors.New("a valid bearer token is required"))
		return
	}
	rec, err := s.o.Retry(r.Context(), key)
	switch {
	case errors.Is(err, builds.ErrUnknownKey):
		writeError(w, http.StatusNotFound, err)
	case errors.Is(err, builds.ErrBuildLive):
		writeError(w, http.StatusConflict, err)
	case errors.Is(err, orchestrator.ErrNotLeader), errors.Is(err, orchestrator.ErrStarting):
		writeError(w, http.StatusServiceUnavailable, err)
	case err != nil:
		writeError(w, http.StatusInternalServerError, err)
	default:
		writeJSON(w, http.StatusOK, rec)
	}
}

// authorized reports whether r carries the API token; without one
// configured nothing is authorized (the guard answers 403 first).
func (s *Server) authorized(r *http.Request) bool { return bearerIs(r, s.cfg.APIToken) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// writeError answers err with status; a failure for want of NATS (an
// orchestrator made without it) is 503, not 500: the server is not broken,
// it cannot do that.
func writeError(w http.ResponseWriter, status int, err error) {
	if status == http.StatusInternalServerError && errors.Is(err, orchestrator.ErrNoNATS) {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, api.ErrorResponse{Error: err.Error()})
}
