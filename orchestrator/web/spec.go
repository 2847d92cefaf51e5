package web

import (
	"errors"
	"net/http"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

// handleSpecSet is POST /api/v1/spec (the guard checked the API token).
func (s *Server) handleSpecSet(w http.ResponseWriter, r *http.Request) {
	var u api.SpecUpdate
	if err := decodeBody(r, &u); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	sp, err := s.o.SetSpec(r.Context(), u)
	switch {
	case errors.Is(err, events.ErrInvalid):
		writeError(w, http.StatusBadRequest, err)
	case errors.Is(err, orchestrator.ErrNotLeader), errors.Is(err, orchestrator.ErrStarting):
		writeError(w, http.StatusServiceUnavailable, err)
	case err != nil:
		writeError(w, http.StatusInternalServerError, err)
	default:
		writeJSON(w, http.StatusOK, sp)
	}
}
