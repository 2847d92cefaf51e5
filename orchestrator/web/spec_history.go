package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/vmfleet/vmfleet/orchestrator"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

// handleSpecHistory is GET /api/v1/spec/history[?limit=N]: the spec keys'
// changes, newest first.
func (s *Server) handleSpecHistory(w http.ResponseWriter, r *http.Request) {
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, fmt.Errorf("limit %q: want a count of revisions, 0 for all", v))
			return
		}
		limit = n
	}
	ch, err := s.o.SpecHistory(r.Context())
	if err != nil {
		writeSpecError(w, err)
		return
	}
	if limit > 0 && len(ch) > limit {
		ch = ch[:limit]
	}
	writeJSON(w, http.StatusOK, api.SpecHistoryResponse{Revisions: ch})
}

// handleSpecRollback is POST /api/v1/spec/rollback: the chosen revision's
// images go through the path of POST /api/v1/spec.
func (s *Server) handleSpecRollback(w http.ResponseWriter, r *http.Request) {
	var rb api.SpecRollback
	if err := decodeBody(r, &rb); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	u, err := s.o.RollbackUpdate(r.Context(), rb)
	switch {
	case errors.Is(err, orchestrator.ErrUnknownRevision):
		writeError(w, http.StatusNotFound, err)
		return
	case errors.Is(err, orchestrator.ErrNotRestorable):
		writeError(w, http.StatusBadRequest, err)
		return
	case err != nil:
		writeSpecError(w, err)
		return
	}
	s.setSpec(w, r, u)
}
