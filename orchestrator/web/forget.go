package web

import (
	"errors"
	"net/http"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/orchestrator"
)

// handleForget is POST /api/v1/hosts/{host}/forget (the guard checked the
// API token): the body's by and reason are logged and published with the
// fleet.forget event.
func (s *Server) handleForget(w http.ResponseWriter, r *http.Request) {
	var req orchestrator.ForgetRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	resp, err := s.o.ForgetHost(r.Context(), r.PathValue("host"), req)
	if err != nil {
		st := pruneStatus(err)
		if st == http.StatusInternalServerError && errors.Is(err, jetstream.ErrStreamNotFound) {
			st = http.StatusBadGateway
		}
		writeError(w, st, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}
