package orchestrator

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
)

// Host states in the read API and metrics.
const (
	HostReady    = "ready"
	HostNotReady = "not_ready"
	HostStale    = "stale"
)

// HostView is one host in the read API.
type HostView struct {
	Host     string                 `json:"host"`
	State    string                 `json:"state"`
	LastSeen time.Time              `json:"last_seen"`
	StaleAt  time.Time              `json:"stale_at"`
	Seq      uint64                 `json:"seq"`
	Releases []events.ReleaseStatus `json:"releases"`
	// Drift is set when the host's Buildkite agent tags have disagreed with
	// the tags it reports for longer than the drift grace, since DriftSince.
	Drift       bool               `json:"drift"`
	DriftSince  *time.Time         `json:"drift_since,omitempty"`
	DriftReason events.DriftReason `json:"drift_reason,omitempty"`
	// Paused is set while the pause lever holds the host's agents paused.
	Paused bool `json:"paused,omitempty"`
	// Health is the full last report (GET /api/v1/hosts/{host} only).
	Health *events.HostHealth `json:"health,omitempty"`
	// Prune is the host's cleanup plan, windows and recent prunes
	// (GET /api/v1/hosts/{host} only).
	Prune *HostPrune `json:"prune,omitempty"`
}

// HostsResponse is GET /api/v1/hosts.
type HostsResponse struct {
	Hosts     []HostView             `json:"hosts"`
	Readiness *events.FleetReadiness `json:"readiness,omitempty"`
	// Leader says who leads, as the answering orchestrator knows it.
	Leader *LeaderStatus `json:"leader,omitempty"`
}

// BuildsResponse is GET /api/v1/builds.
type BuildsResponse struct {
	Builds []builds.Record `json:"builds"`
}

// Handler serves the read API, the metrics, the retry endpoint and the
// Buildkite webhook receiver.
func (o *Orchestrator) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !o.Ready() {
			writeJSON(w, http.StatusServiceUnavailable, o.readyBody("catching up"))
			return
		}
		writeJSON(w, http.StatusOK, o.readyBody("ready"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(o.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /api/v1/hosts", func(w http.ResponseWriter, _ *http.Request) {
		l := o.Leadership()
		writeJSON(w, http.StatusOK, HostsResponse{Hosts: o.Hosts(), Readiness: o.readiness.Load(), Leader: &l})
	})
	mux.HandleFunc("GET /api/v1/hosts/{host}", func(w http.ResponseWriter, r *http.Request) {
		v, ok := o.Host(r.PathValue("host"))
		if !ok {
			writeError(w, http.StatusNotFound, errors.New("no such host"))
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
	mux.HandleFunc("GET /api/v1/builds", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, BuildsResponse{Builds: o.builds.Records()})
	})
	mux.HandleFunc("GET /api/v1/spec", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, o.Spec())
	})
	mux.HandleFunc("GET /api/v1/leader", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, o.Leadership())
	})
	mux.HandleFunc("POST /api/v1/spec", o.handleSpecSet)
	mux.HandleFunc("GET /api/v1/spec/next", o.handleSpecNext) // spec_stage.go
	mux.HandleFunc("POST /api/v1/spec/next", o.handleSpecNext)
	mux.HandleFunc("DELETE /api/v1/spec/next", o.handleSpecNext)
	mux.HandleFunc("POST /api/v1/spec/promote", o.handleSpecPromote)
	mux.HandleFunc("POST /api/v1/hosts/{host}/prune", o.handlePrune)
	mux.HandleFunc("GET /api/v1/prunes", o.handlePrunes)
	mux.HandleFunc("POST /api/v1/builds/{rest...}", o.handleRetry)
	mux.HandleFunc("POST /webhooks/buildkite", o.handleWebhook)
	o.registerDashboard(mux) // dashboard_http.go
	return o.guard(mux)
}

// handleRetry is POST /api/v1/builds/{key}/retry (the key may hold '/').
func (o *Orchestrator) handleRetry(w http.ResponseWriter, r *http.Request) {
	key, ok := strings.CutSuffix(r.PathValue("rest"), "/retry")
	if !ok || key == "" {
		http.NotFound(w, r)
		return
	}
	if !o.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="vmfleet"`)
		writeError(w, http.StatusUnauthorized, errors.New("a valid bearer token is required"))
		return
	}
	rec, err := o.Retry(r.Context(), key)
	switch {
	case errors.Is(err, builds.ErrUnknownKey):
		writeError(w, http.StatusNotFound, err)
	case errors.Is(err, builds.ErrBuildLive):
		writeError(w, http.StatusConflict, err)
	case errors.Is(err, ErrNotLeader), errors.Is(err, ErrStarting):
		writeError(w, http.StatusServiceUnavailable, err)
	case err != nil:
		writeError(w, http.StatusInternalServerError, err)
	default:
		writeJSON(w, http.StatusOK, rec)
	}
}

// authorized reports whether r carries the API token; without one
// configured nothing is authorized (the guard answers 403 first).
func (o *Orchestrator) authorized(r *http.Request) bool { return bearerIs(r, o.cfg.APIToken) }

// Hosts returns every known host, sorted.
func (o *Orchestrator) Hosts() []HostView {
	now := o.now()
	var out []HostView
	o.fleet.each(func(host string, hs *hostState) { out = append(out, o.hostView(host, hs, now)) })
	slices.SortFunc(out, func(a, b HostView) int { return strings.Compare(a.Host, b.Host) })
	return out
}

// Host returns one host with its full last report.
func (o *Orchestrator) Host(host string) (HostView, bool) {
	hs := o.fleet.get(host)
	if hs == nil {
		return HostView{}, false
	}
	v := o.hostView(host, hs, o.now())
	v.Health = hs.h
	v.Prune = o.hostPrune(host, hs)
	return v, true
}

func (o *Orchestrator) hostView(host string, hs *hostState, now time.Time) HostView {
	v := HostView{Host: host, LastSeen: hs.lastSeen, StaleAt: o.fleet.staleAt(hs), Seq: hs.h.Seq, Releases: hs.h.Releases, State: HostNotReady}
	switch {
	case o.fleet.stale(hs, now):
		v.State = HostStale
	case hs.h.Ready:
		v.State = HostReady
	}
	drift, since, reason, paused := o.agents.hostAgents(host)
	if drift {
		v.Drift, v.DriftSince, v.DriftReason = true, &since, reason
	}
	v.Paused = paused
	return v
}

// Builds returns every build record, sorted by key.
func (o *Orchestrator) Builds() []builds.Record { return o.builds.Records() }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}
