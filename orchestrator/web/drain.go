package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/vmfleet/vmfleet/orchestrator/api"
	"github.com/vmfleet/vmfleet/orchestrator/drains"
	"github.com/vmfleet/vmfleet/orchestrator/hostcmd"
)

// handleDrain is POST /api/v1/hosts/{host}/drain and /resume (the guard
// checked the API token): the body's by, reason (and a drain's ttl) reach
// the host's forced state and the fleet.drain event, which is the answer.
// A host that is stale or whose agent does not answer is a 409 saying so;
// an agent's own refusal is a 502.
func (s *Server) handleDrain(w http.ResponseWriter, r *http.Request) {
	var req api.DrainHostRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	do := s.o.DrainHost
	if strings.HasSuffix(r.URL.Path, "/resume") {
		if req.TTL != 0 {
			writeError(w, http.StatusBadRequest, errors.New("request body: a resume takes no ttl"))
			return
		}
		do = s.o.ResumeHost
	}
	ev, err := do(r.Context(), r.PathValue("host"), req)
	if err != nil {
		st := pruneStatus(err)
		if _, ok := errors.AsType[*hostcmd.AgentError](err); ok {
			st = http.StatusBadGateway
		}
		if errors.Is(err, drains.ErrHostOffline) {
			st = http.StatusConflict
		}
		writeError(w, st, err)
		return
	}
	writeJSON(w, http.StatusOK, ev)
}
