package buildkitefake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"
)

// Agent is a snapshot of a registered agent.
type Agent struct {
	ID       string
	Name     string
	Hostname string
	// MetaData holds the agent's tags as "key=value" strings.
	MetaData []string
	// ConnectionState is connected (default), disconnected, stopping or stopped.
	ConnectionState string
	Version         string
	CreatedAt       time.Time

	Paused      bool
	PausedNote  string
	PausedUntil time.Time // when the pause times out

	// Registered is set for an agent that registered through the agent
	// API (a real buildkite-agent), unset for one AddAgent made.
	Registered bool
	// LastJobFinishedAt is when the agent last finished a job (agent API).
	LastJobFinishedAt time.Time
	// PID is the process id the agent registered with (agent API).
	PID int
}

type agentRec struct {
	org string
	Agent

	// Agent API state (agentapi.go).
	accessToken string
	lastSeen    time.Time
	pings       int
}

func (a Agent) clone() Agent {
	a.MetaData = slices.Clone(a.MetaData)
	return a
}

const (
	defaultPauseMinutes = 5
	maxPauseMinutes     = 10080
)

// AddAgent registers an agent in org and returns it with its ID (random unless
// set), connection state (default connected), version and creation time filled.
func (s *Server) AddAgent(org string, a Agent) Agent {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.ID == "" {
		a.ID = newUUID()
	}
	if a.ConnectionState == "" {
		a.ConnectionState = "connected"
	}
	if a.Version == "" {
		a.Version = "3.90.0"
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = s.cfg.now()
	}
	a = a.clone()
	s.agents = append(s.agents, &agentRec{org: org, Agent: a})
	return a.clone()
}

// SetAgentTags replaces an agent's tags ("key=value"), as an agent restarted
// with new --tags would.
func (s *Server) SetAgentTags(org, id string, tags ...string) error {
	return s.updateAgent(org, id, func(a *Agent) { a.MetaData = slices.Clone(tags) })
}

// SetAgentConnectionState sets connected, disconnected, stopping or stopped.
func (s *Server) SetAgentConnectionState(org, id, state string) error {
	return s.updateAgent(org, id, func(a *Agent) { a.ConnectionState = state })
}

// Agents returns every agent of org, disconnected ones included, oldest first.
func (s *Server) Agents(org string) []Agent {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Agent
	for _, a := range s.agents {
		if a.org == org {
			out = append(out, a.clone())
		}
	}
	return out
}

// GetAgent returns one agent, pause state included.
func (s *Server) GetAgent(org, id string) (Agent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.agentLocked(org, id)
	if rec == nil {
		return Agent{}, fmt.Errorf("get agent %s in %s: %w", id, org, ErrNoAgent)
	}
	return rec.clone(), nil
}

func (s *Server) updateAgent(org, id string, fn func(*Agent)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.agentLocked(org, id)
	if rec == nil {
		return fmt.Errorf("update agent %s in %s: %w", id, org, ErrNoAgent)
	}
	fn(&rec.Agent)
	return nil
}

func (s *Server) agentLocked(org, id string) *agentRec {
	for _, a := range s.agents {
		if a.ID == id && a.org == org {
			return a
		}
	}
	return nil
}

func (s *Server) expirePausesLocked(now time.Time) {
	for _, a := range s.agents {
		if a.Paused && !now.Before(a.PausedUntil) {
			a.Paused, a.PausedNote, a.PausedUntil = false, "", time.Time{}
		}
	}
}

type wireAgent struct {
	ID                string        `json:"id"`
	GraphQLID         string        `json:"graphql_id"`
	URL               string        `json:"url"`
	WebURL            string        `json:"web_url"`
	Name              string        `json:"name"`
	ConnectionState   string        `json:"connection_state"`
	Hostname          string        `json:"hostname"`
	IPAddress         string        `json:"ip_address"`
	UserAgent         string        `json:"user_agent"`
	Version           string        `json:"version"`
	Creator           *wireUser     `json:"creator"`
	CreatedAt         *string       `json:"created_at"`
	Job               *wireAgentJob `json:"job"`
	LastJobFinishedAt *string       `json:"last_job_finished_at"`
	Priority          *int          `json:"priority"`
	MetaData          []string      `json:"meta_data"`
}

// wireAgentJob is the running job in the REST agent model.
type wireAgentJob struct {
	ID      string   `json:"id"`
	Type    string   `json:"type"`
	State   JobState `json:"state"`
	Name    string   `json:"name"`
	Command string   `json:"command"`
}

// agentJSON renders a; its job is the one it holds through the agent API.
// Caller holds s.mu.
func (s *Server) agentJSON(a *agentRec) wireAgent {
	meta := slices.Clone(a.MetaData)
	if meta == nil {
		meta = []string{}
	}
	var job *wireAgentJob
	if j := s.agentJobLocked(a.ID); j != nil {
		job = &wireAgentJob{ID: j.ID, Type: "script", State: j.State, Name: j.Label, Command: j.Command}
	}
	return wireAgent{
		Job:               job,
		LastJobFinishedAt: apiTime(a.LastJobFinishedAt),
		ID:                a.ID,
		GraphQLID:         "QWdlbnQtLS0" + a.ID,
		URL:               fmt.Sprintf("%sv2/organizations/%s/agents/%s", s.baseURL, a.org, a.ID),
		WebURL:            fmt.Sprintf("https://buildkite.com/organizations/%s/agents/%s", a.org, a.ID),
		Name:              a.Name,
		ConnectionState:   a.ConnectionState,
		Hostname:          a.Hostname,
		IPAddress:         "127.0.0.1",
		UserAgent:         fmt.Sprintf("buildkite-agent/%s (darwin; arm64)", a.Version),
		Version:           a.Version,
		CreatedAt:         apiTime(a.CreatedAt),
		MetaData:          meta,
	}
}

// handleAgents lists connected agents (the real API omits disconnected ones),
// filtered by name, hostname and version.
func (s *Server) handleAgents(w http.ResponseWriter, r *http.Request) {
	org, q := r.PathValue("org"), r.URL.Query()
	s.mu.Lock()
	if !s.orgExists(org) {
		s.mu.Unlock()
		writeMessage(w, http.StatusNotFound, "Not Found")
		return
	}
	var out []wireAgent
	for _, a := range s.agents {
		switch {
		case a.org != org, a.ConnectionState == "disconnected", a.ConnectionState == "never_connected",
			q.Get("name") != "" && a.Name != q.Get("name"),
			q.Get("hostname") != "" && a.Hostname != q.Get("hostname"),
			q.Get("version") != "" && a.Version != q.Get("version"):
			continue
		}
		out = append(out, s.agentJSON(a))
	}
	s.mu.Unlock()
	writePage(w, r, s.baseURL, out)
}

func (s *Server) handleAgent(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	a := s.agentLocked(r.PathValue("org"), r.PathValue("id"))
	if a == nil {
		s.mu.Unlock()
		writeMessage(w, http.StatusNotFound, "No agent found")
		return
	}
	body := s.agentJSON(a)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

type pauseRequest struct {
	Note             string `json:"note"`
	TimeoutInMinutes int    `json:"timeout_in_minutes"`
}

// handlePause answers 204 like the real API; 422 when already paused or not connected.
func (s *Server) handlePause(w http.ResponseWriter, r *http.Request) {
	var req pauseRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil && err != io.EOF {
		writeMessage(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	if req.TimeoutInMinutes <= 0 {
		req.TimeoutInMinutes = defaultPauseMinutes
	}
	if req.TimeoutInMinutes > maxPauseMinutes {
		writeMessage(w, http.StatusUnprocessableEntity, fmt.Sprintf("Timeout in minutes must be at most %d", maxPauseMinutes))
		return
	}
	s.agentAction(w, r, func(a *agentRec) string {
		switch {
		case a.Paused:
			return "Agent is already paused"
		case a.ConnectionState != "connected":
			return "Only connected agents may be paused"
		}
		a.Paused, a.PausedNote = true, req.Note
		a.PausedUntil = s.cfg.now().Add(time.Duration(req.TimeoutInMinutes) * time.Minute)
		return ""
	})
}

// handleResume answers 204; 422 when the agent is not paused.
func (s *Server) handleResume(w http.ResponseWriter, r *http.Request) {
	s.agentAction(w, r, func(a *agentRec) string {
		if !a.Paused {
			return "Agent is not paused"
		}
		a.Paused, a.PausedNote, a.PausedUntil = false, "", time.Time{}
		return ""
	})
}

// agentAction runs fn on the named agent under the lock; fn returns a 422
// message, or "" for 204.
func (s *Server) agentAction(w http.ResponseWriter, r *http.Request, fn func(*agentRec) string) {
	s.mu.Lock()
	a := s.agentLocked(r.PathValue("org"), r.PathValue("id"))
	if a == nil {
		s.mu.Unlock()
		writeMessage(w, http.StatusNotFound, "No agent found")
		return
	}
	msg := fn(a)
	s.mu.Unlock()
	if msg != "" {
		writeMessage(w, http.StatusUnprocessableEntity, msg)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
