package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/nats-io/nats.go"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator"
	"github.com/vmfleet/vmfleet/orchestrator/api"
	"github.com/vmfleet/vmfleet/orchestrator/prunes"
)

// handlePrune is POST /api/v1/hosts/{host}/prune (the guard checked the
// API token).
func (s *Server) handlePrune(w http.ResponseWriter, r *http.Request) {
	var req api.PruneHostRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	resp, err := s.o.PruneHost(r.Context(), r.PathValue("host"), req)
	if err != nil {
		writeError(w, pruneStatus(err), err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func pruneStatus(err error) int {
	switch {
	case errors.Is(err, prunes.ErrUnknownHost):
		return http.StatusNotFound
	case errors.Is(err, prunes.ErrHostStale), errors.Is(err, prunes.ErrPruneInFlight):
		return http.StatusConflict
	case errors.Is(err, orchestrator.ErrNotLeader), errors.Is(err, orchestrator.ErrStarting):
		return http.StatusServiceUnavailable
	case errors.Is(err, events.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.Is(err, nats.ErrNoResponders):
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError
}

func (s *Server) handlePrunes(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, api.PrunesResponse{Recent: s.o.RecentPrunes()})
}

// decodeBody reads a JSON request body of at most 64 KiB into v, refusing
// unknown fields (a misspelt "dry_run" must not prune for real). An empty
// body leaves v as it is.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("request body: %w", err)
	}
	return nil
}
