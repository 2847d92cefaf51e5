package buildkitefake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

type createRequest struct {
	Commit   string         `json:"commit"`
	Branch   string         `json:"branch"`
	Message  string         `json:"message"`
	Env      map[string]any `json:"env"`
	MetaData map[string]any `json:"meta_data"`
}

type fieldError struct {
	Field string `json:"field"`
	Code  string `json:"code"`
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	org, slug := r.PathValue("org"), r.PathValue("pipeline")
	var req createRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		writeMessage(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	var errs []fieldError
	if req.Commit == "" {
		errs = append(errs, fieldError{Field: "commit", Code: "missing_field"})
	}
	if req.Branch == "" {
		errs = append(errs, fieldError{Field: "branch", Code: "missing_field"})
	}

	s.mu.Lock()
	p := s.pipelineLocked(org, slug)
	if p == nil {
		s.mu.Unlock()
		writeMessage(w, http.StatusNotFound, "Not Found")
		return
	}
	if len(errs) > 0 {
		s.mu.Unlock()
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed", "errors": errs})
		return
	}
	now := s.cfg.now()
	s.numbers[org+"/"+slug]++
	b := &Build{
		ID: newUUID(), Number: s.numbers[org+"/"+slug], Org: org, Pipeline: slug,
		Commit: req.Commit, Branch: req.Branch, Message: req.Message,
		Env: stringMap(req.Env), MetaData: stringMap(req.MetaData),
		CreatedAt: now,
	}
	s.builds = append(s.builds, b)
	s.trackCreatedLocked(b)
	snap := s.moveLocked(b, StateScheduled, now)
	body := s.buildJSON(snap, p, true)
	changed := []Build{snap}
	if _, err := s.createJobsLocked(b); err != nil {
		// The pipeline upload failed: so does the build, as on Buildkite.
		s.log.Warn("pipeline upload failed", "build", snap.Number, "pipeline", slug, "err", err)
		changed = append(changed, s.moveLocked(b, StateRunning, now), s.moveLocked(b, StateFailed, now))
	}
	s.mu.Unlock()

	s.log.Info("build created", "build", snap.Number, "pipeline", slug, "key", snap.Key())
	s.runHooks(changed)
	writeJSON(w, http.StatusCreated, body)
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	b, p := s.lookupLocked(r)
	if b == nil {
		s.mu.Unlock()
		writeMessage(w, http.StatusNotFound, "Not Found")
		return
	}
	body := s.buildJSON(b.clone(), p, true)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

// handleCancel cancels a scheduled build at once and marks a running one
// canceling (it becomes canceled on the next Tick or Step), like the real API.
func (s *Server) handleCancel(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	b, p := s.lookupLocked(r)
	if b == nil {
		s.mu.Unlock()
		writeMessage(w, http.StatusNotFound, "Not Found")
		return
	}
	var to State
	switch b.State {
	case StateScheduled:
		to = StateCanceled
	case StateRunning:
		to = StateCanceling
	default:
		st := b.State
		s.mu.Unlock()
		writeMessage(w, http.StatusUnprocessableEntity,
			fmt.Sprintf("Build can't be canceled because it is %s; only scheduled, running or failing builds can be canceled", st))
		return
	}
	snap := s.moveLocked(b, to, s.cfg.now())
	body := s.buildJSON(snap, p, true)
	changed := append([]Build{snap}, s.cancelJobsLocked(b)...)
	s.mu.Unlock()

	s.runHooks(changed)
	writeJSON(w, http.StatusOK, body)
}

// lookupLocked finds the build named by the request path. Caller holds s.mu.
func (s *Server) lookupLocked(r *http.Request) (*Build, *pipelineRec) {
	org, slug := r.PathValue("org"), r.PathValue("pipeline")
	n, err := strconv.Atoi(r.PathValue("number"))
	if err != nil {
		return nil, nil
	}
	p := s.pipelineLocked(org, slug)
	if p == nil {
		return nil, nil
	}
	b := s.findLocked(org, slug, n)
	if b == nil {
		return nil, nil
	}
	return b, p
}

func stringMap(m map[string]any) map[string]string {
	if len(m) == 0 {
		return map[string]string{}
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if s, ok := v.(string); ok {
			out[k] = s
		} else {
			out[k] = fmt.Sprint(v)
		}
	}
	return out
}
