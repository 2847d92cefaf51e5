package web

import (
	"errors"
	"net/http"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator"
	"github.com/vmfleet/vmfleet/orchestrator/api"
	"github.com/vmfleet/vmfleet/orchestrator/rollout"
)

// handleSpecSet is POST /api/v1/spec (the guard checked the API token).
func (s *Server) handleSpecSet(w http.ResponseWriter, r *http.Request) {
	var u api.SpecUpdate
	if err := decodeBody(r, &u); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	s.setSpec(w, r, u)
}

// setSpec applies an update to the spec in force and answers: the path
// of POST /api/v1/spec and of a rollback (spec_history.go).
func (s *Server) setSpec(w http.ResponseWriter, r *http.Request, u api.SpecUpdate) {
	sp, err := s.o.SetSpec(r.Context(), u)
	if err != nil {
		writeSpecError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, sp)
}

// handleSpecNext serves GET/POST/DELETE /api/v1/spec/next (the guard
// checked the token for writes).
func (s *Server) handleSpecNext(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		sp := s.o.Next()
		if sp == nil {
			writeError(w, http.StatusNotFound, orchestrator.ErrNoStagedSpec)
			return
		}
		writeJSON(w, http.StatusOK, sp)
	case http.MethodDelete:
		if err := s.o.UnstageSpec(r.Context()); err != nil {
			writeSpecError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		var u api.SpecUpdate
		if err := decodeBody(r, &u); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		sp, err := s.o.StageSpec(r.Context(), u)
		if err != nil {
			writeSpecError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, sp)
	}
}

// handleSpecPromote is POST /api/v1/spec/promote: like a set, a dry run
// answers the preview and a change needing a confirmation without one is
// refused (writeSpecError).
func (s *Server) handleSpecPromote(w http.ResponseWriter, r *http.Request) {
	var p api.SpecPromote
	if err := decodeBody(r, &p); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	sp, err := s.o.PromoteSpec(r.Context(), p)
	if err != nil {
		writeSpecError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, sp)
}

// writeSpecError answers a spec change that did not apply. A dry run's
// preview is the answer (200); a change that needs a confirmation and had
// none is refused with 409 and its preview (api.SpecRefusal).
func writeSpecError(w http.ResponseWriter, err error) {
	if pe, ok := errors.AsType[*rollout.PreviewError](err); ok {
		if pe.DryRun {
			writeJSON(w, http.StatusOK, pe.Impact)
			return
		}
		writeJSON(w, http.StatusConflict, api.SpecRefusal{Error: pe.Error(), Preview: pe.Impact})
		return
	}
	switch {
	case errors.Is(err, events.ErrInvalid):
		writeError(w, http.StatusBadRequest, err)
	case errors.Is(err, orchestrator.ErrNoStagedSpec):
		writeError(w, http.StatusNotFound, err)
	case errors.Is(err, orchestrator.ErrNotLeader), errors.Is(err, orchestrator.ErrStarting):
		writeError(w, http.StatusServiceUnavailable, err)
	default:
		writeError(w, http.StatusInternalServerError, err)
	}
}
