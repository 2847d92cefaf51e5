package main

import (
	"encoding/json"
	"net/http"
	"sync/atomic"

	"github.com/vmfleet/vmfleet/orchestrator/api"
)

// bootHandler is the orchestrator's HTTP handler from the moment its port
// opens: until serve hands it the real API, /healthz answers 200 and
// /readyz 503 with the reason it is not ready (NATS unreachable, its
// credentials refused, JetStream not set up yet), so probes and operators
// see a live process that says what it waits for. Every other path answers
// 503 with the same reason.
type bootHandler struct {
	h      atomic.Pointer[http.Handler]
	reason atomic.Pointer[func() string]
}

func newBootHandler(reason string) *bootHandler {
	b := &bootHandler{}
	b.setReason(reason)
	return b
}

// setReason says what the orchestrator waits for.
func (b *bootHandler) setReason(reason string) { b.setReasonFunc(func() string { return reason }) }

// setReasonFunc says what the orchestrator waits for, asked at every request.
func (b *bootHandler) setReasonFunc(f func() string) { b.reason.Store(&f) }

// serve hands every request to h from now on.
func (b *bootHandler) serve(h http.Handler) { b.h.Store(&h) }

func (b *bootHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := b.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	reason := (*b.reason.Load())()
	var status int
	var body any
	switch r.URL.Path {
	case "/healthz":
		status, body = http.StatusOK, map[string]string{"status": "ok"}
	case "/readyz":
		status, body = http.StatusServiceUnavailable, api.ReadyResponse{Status: api.ReadyStarting, Reason: reason}
	default:
		status, body = http.StatusServiceUnavailable, api.ErrorResponse{Error: "orchestrator starting: " + reason}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(body)
}
