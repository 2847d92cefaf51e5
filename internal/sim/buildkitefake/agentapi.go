package buildkitefake

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Agent API routes (what buildkite-agent v3 calls under its endpoint), as
// counted by RequestCount and matched by Fault.Route.
const (
	RouteAgentRegister   = "/v3/register"
	RouteAgentConnect    = "/v3/connect"
	RouteAgentDisconnect = "/v3/disconnect"
	RouteAgentHeartbeat  = "/v3/heartbeat"
	RouteAgentPing       = "/v3/ping"
	RouteJobState        = "/v3/jobs/{id}"
	RouteJobAccept       = "/v3/jobs/{id}/accept"
	RouteJobStart        = "/v3/jobs/{id}/start"
	RouteJobChunks       = "/v3/jobs/{id}/chunks"
	RouteJobHeaderTimes  = "/v3/jobs/{id}/header_times"
	RouteJobFinish       = "/v3/jobs/{id}/finish"
)

// agentAPIConfig is the agent API's part of the configuration.
type agentAPIConfig struct {
	agentOrg          string
	agentToken        string
	pingInterval      int // seconds, as the register answer carries them
	heartbeatInterval int
	jobStatusInterval int
	agentPipelines    map[string][]byte // org/slug -> pipeline YAML
}

func defaultAgentAPIConfig() agentAPIConfig {
	return agentAPIConfig{pingInterval: 1, heartbeatInterval: 5, jobStatusInterval: 1}
}

// WithAgentToken serves the agent API: buildkite-agent registers with this
// agent token (`buildkite-agent start --token`) and its agents belong to
// org. Without it every registration is refused.
func WithAgentToken(org, token string) Option {
	return func(c *config) error {
		if org == "" || token == "" {
			return fmt.Errorf("%w: empty agent token or org", ErrInvalidOption)
		}
		c.agentOrg, c.agentToken = org, token
		return nil
	}
}

// WithAgentIntervals sets the ping, heartbeat and job status intervals the
// register answer gives buildkite-agent (whole seconds, at least 1; default
// 1, 5 and 1 s, where Buildkite gives minutes-scale values: tests stay quick).
func WithAgentIntervals(ping, heartbeat, jobStatus time.Duration) Option {
	return func(c *config) error {
		for _, d := range []time.Duration{ping, heartbeat, jobStatus} {
			if d < time.Second || d%time.Second != 0 {
				return fmt.Errorf("%w: agent interval %v: want whole seconds, at least 1", ErrInvalidOption, d)
			}
		}
		c.pingInterval, c.heartbeatInterval = int(ping/time.Second), int(heartbeat/time.Second)
		c.jobStatusInterval = int(jobStatus / time.Second)
		return nil
	}
}

// WithAgentPipeline serves builds of org/slug to real agents: each build
// created through the REST API is the pipeline file src uploaded with the
// build's env (and BUILDKITE_* variables) interpolated; each command step
// is a job with the step's agents rules, dispatched in a ping answer only to
// a connected, unpaused, idle agent whose tags match (matchAgent). The
// build's state, and so its webhooks, follow what the agents report: running
// once a job starts, then passed when every job finished with exit status 0,
// failed otherwise, canceled after a cancel. Tick and Step leave such builds
// alone. A pipeline that does not parse fails its builds at once.
func WithAgentPipeline(org, slug string, src []byte) Option {
	return func(c *config) error {
		if _, err := parsePipeline(src, map[string]string{}); err != nil && !errors.Is(err, errInterpolate) {
			return fmt.Errorf("%w: pipeline %s/%s: %w", ErrInvalidOption, org, slug, err)
		}
		if c.agentPipelines == nil {
			c.agentPipelines = map[string][]byte{}
		}
		c.agentPipelines[org+"/"+slug] = slices.Clone(src)
		return nil
	}
}

func (s *Server) agentRoutes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("POST "+RouteAgentRegister, s.handleRegister)
	m.HandleFunc("POST "+RouteAgentConnect, s.withAgent(s.handleConnect))
	m.HandleFunc("POST "+RouteAgentDisconnect, s.withAgent(s.handleDisconnect))
	m.HandleFunc("POST "+RouteAgentHeartbeat, s.withAgent(s.handleHeartbeat))
	m.HandleFunc("GET "+RouteAgentPing, s.withAgent(s.handlePing))
	m.HandleFunc("GET "+RouteJobState, s.withJob(s.handleJobState))
	m.HandleFunc("PUT "+RouteJobAccept, s.withJob(s.handleJobAccept))
	m.HandleFunc("PUT "+RouteJobStart, s.withJob(s.handleJobStart))
	m.HandleFunc("POST "+RouteJobChunks, s.withJob(s.handleJobChunk))
	m.HandleFunc("POST "+RouteJobHeaderTimes, s.withJob(func(w http.ResponseWriter, _ *http.Request, _ *agentRec, _ *jobRec) {
		writeJSON(w, http.StatusOK, map[string]any{})
	}))
	m.HandleFunc("PUT "+RouteJobFinish, s.withJob(s.handleJobFinish))
	m.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeMessage(w, http.StatusNotFound, "Not Found")
	})
	return m
}

// serveAgentAPI serves /v3/...: counted and open to faults like the REST
// API, authenticated with "Authorization: Token <agent or access token>".
func (s *Server) serveAgentAPI(w http.ResponseWriter, r *http.Request) {
	_, pattern := s.agentMux.Handler(r)
	route := pattern
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		route = pattern[i+1:]
	}
	if route == "/" {
		route = ""
	}
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	defer func() { s.countRequest(r.Method, route, rec.status) }()
	if f, ok := s.takeFault(r.Method, route); ok {
		_, reset := s.rateHeaders(http.Header{})
		if !s.applyFault(rec, r, f, reset) {
			return
		}
	}
	s.agentMux.ServeHTTP(rec, r)
}

func tokenOf(r *http.Request) string {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Token ")
	return tok
}

type registerRequest struct {
	Name     string   `json:"name"`
	Hostname string   `json:"hostname"`
	OS       string   `json:"os"`
	Arch     string   `json:"arch"`
	Version  string   `json:"version"`
	Tags     []string `json:"meta_data"`
	PID      int      `json:"pid"`
}

// handleRegister is POST /v3/register with the agent token: a new agent,
// never_connected until it connects, its tags kept as its meta-data.
func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	if tok := tokenOf(r); s.cfg.agentToken == "" || tok != s.cfg.agentToken {
		writeMessage(w, http.StatusUnauthorized, "Invalid agent registration token")
		return
	}
	var req registerRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		writeMessage(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	org := s.cfg.agentOrg
	a := Agent{ID: newUUID(), Name: req.Name, Hostname: req.Hostname, MetaData: slices.Clone(req.Tags),
		ConnectionState: "never_connected", Version: req.Version, CreatedAt: s.cfg.now(), Registered: true, PID: req.PID}
	if a.MetaData == nil {
		a.MetaData = []string{}
	}
	access := newUUID()
	s.mu.Lock()
	s.agents = append(s.agents, &agentRec{org: org, Agent: a, accessToken: access})
	s.mu.Unlock()
	s.log.Info("agent registered", "agent", a.ID, "name", a.Name, "tags", strings.Join(sortedTags(a.MetaData), ","))
	writeJSON(w, http.StatusOK, map[string]any{
		"id": a.ID, "name": a.Name, "access_token": access, "endpoint": s.baseURL + "v3",
		"ping_interval": s.cfg.pingInterval, "job_status_interval": s.cfg.jobStatusInterval,
		"heartbeat_interval": s.cfg.heartbeatInterval, "meta_data": a.MetaData,
	})
}

// withAgent authenticates an agent by its access token.
func (s *Server) withAgent(fn func(http.ResponseWriter, *http.Request, *agentRec)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a := s.agentByToken(tokenOf(r))
		if a == nil {
			writeMessage(w, http.StatusUnauthorized, "Invalid access token")
			return
		}
		fn(w, r, a)
	}
}

// withJob authenticates an agent and finds the job it names, which must be
// that agent's.
func (s *Server) withJob(fn func(http.ResponseWriter, *http.Request, *agentRec, *jobRec)) http.HandlerFunc {
	return s.withAgent(func(w http.ResponseWriter, r *http.Request, a *agentRec) {
		s.mu.Lock()
		j := s.jobLocked(r.PathValue("id"))
		s.mu.Unlock()
		if j == nil {
			writeMessage(w, http.StatusNotFound, "No job found")
			return
		}
		fn(w, r, a, j)
	})
}

func (s *Server) agentByToken(tok string) *agentRec {
	if tok == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.agents {
		if a.accessToken == tok {
			return a
		}
	}
	return nil
}

func (s *Server) handleConnect(w http.ResponseWriter, _ *http.Request, a *agentRec) {
	s.mu.Lock()
	a.ConnectionState = "connected"
	a.lastSeen = s.cfg.now()
	body := s.agentJSON(a)
	s.mu.Unlock()
	s.log.Info("agent connected", "agent", a.ID)
	writeJSON(w, http.StatusOK, body)
}

// handleDisconnect marks the agent disconnected; a job it still held goes
// back to scheduled (Buildkite would mark it lost; the fake lets another
// agent take it).
func (s *Server) handleDisconnect(w http.ResponseWriter, _ *http.Request, a *agentRec) {
	s.mu.Lock()
	a.ConnectionState = "disconnected"
	if j := s.agentJobLocked(a.ID); j != nil && j.State == JobAssigned {
		j.State, j.AgentID, j.AgentTags = JobScheduled, "", nil
	}
	body := s.agentJSON(a)
	s.mu.Unlock()
	s.log.Info("agent disconnected", "agent", a.ID)
	writeJSON(w, http.StatusOK, body)
}

type heartbeat struct {
	SentAt     string `json:"sent_at"`
	ReceivedAt string `json:"received_at,omitempty"`
}

func (s *Server) handleHeartbeat(w http.ResponseWriter, r *http.Request, a *agentRec) {
	var hb heartbeat
	_ = json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&hb)
	s.mu.Lock()
	now := s.cfg.now()
	a.lastSeen = now
	s.mu.Unlock()
	hb.ReceivedAt = now.UTC().Format(time.RFC3339Nano)
	writeJSON(w, http.StatusOK, hb)
}

// wireJob is the agent API's job (api.Job in buildkite-agent).
type wireJob struct {
	ID                 string            `json:"id"`
	Endpoint           string            `json:"endpoint"`
	State              JobState          `json:"state"`
	Env                map[string]string `json:"env"`
	ChunksMaxSizeBytes uint64            `json:"chunks_max_size_bytes"`
	LogMaxSizeBytes    uint64            `json:"log_max_size_bytes"`
	Token              string            `json:"token"`
	RunnableAt         string            `json:"runnable_at,omitempty"`
}

// jobJSON renders j for agent a. Caller holds s.mu.
func (s *Server) jobJSON(j *jobRec, a *agentRec) wireJob {
	return wireJob{ID: j.ID, Endpoint: s.baseURL + "v3", State: j.State, Env: maps.Clone(j.Env),
		ChunksMaxSizeBytes: 1 << 20, LogMaxSizeBytes: 64 << 20, Token: a.accessToken,
		RunnableAt: j.ScheduledAt.UTC().Format(time.RFC3339Nano)}
}

// handlePing answers a connected agent's ping: a job whose rules its tags
// match, when it is idle and not paused; otherwise nothing to do.
func (s *Server) handlePing(w http.ResponseWriter, _ *http.Request, a *agentRec) {
	s.mu.Lock()
	now := s.cfg.now()
	a.lastSeen = now
	a.pings++
	s.expirePausesLocked(now)
	if a.ConnectionState != "connected" || a.Paused || s.agentJobLocked(a.ID) != nil {
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{})
		return
	}
	j := s.nextJobLocked(a)
	if j == nil {
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{})
		return
	}
	j.State, j.AgentID, j.AgentTags, j.AssignedAt = JobAssigned, a.ID, slices.Clone(a.MetaData), now
	for _, t := range a.MetaData {
		k, v, _ := strings.Cut(t, "=")
		j.Env[tagEnvName(k)] = v
	}
	j.Env["BUILDKITE_AGENT_ID"], j.Env["BUILDKITE_AGENT_NAME"] = a.ID, a.Name
	body := s.jobJSON(j, a)
	s.mu.Unlock()
	s.log.Info("job assigned", "job", j.ID, "build", j.BuildNumber, "agent", a.ID, "rules", strings.Join(j.Agents, ","))
	writeJSON(w, http.StatusOK, map[string]any{"job": body})
}

func (s *Server) handleJobState(w http.ResponseWriter, _ *http.Request, _ *agentRec, j *jobRec) {
	s.mu.Lock()
	st := j.State
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"state": st})
}

// handleJobAccept accepts a job assigned to this agent; anything else is 422.
func (s *Server) handleJobAccept(w http.ResponseWriter, _ *http.Request, a *agentRec, j *jobRec) {
	s.mu.Lock()
	if j.AgentID != a.ID || j.State != JobAssigned {
		st := j.State
		s.mu.Unlock()
		writeMessage(w, http.StatusUnprocessableEntity, fmt.Sprintf("Job can't be accepted because it is %s", st))
		return
	}
	j.State = JobAccepted
	body := s.jobJSON(j, a)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) handleJobStart(w http.ResponseWriter, _ *http.Request, a *agentRec, j *jobRec) {
	s.mu.Lock()
	if j.AgentID != a.ID || (j.State != JobAccepted && j.State != JobCanceling) {
		st := j.State
		s.mu.Unlock()
		writeMessage(w, http.StatusUnprocessableEntity, fmt.Sprintf("Job can't be started because it is %s", st))
		return
	}
	if j.State == JobAccepted {
		j.State = JobRunning
	}
	j.StartedAt = s.cfg.now()
	changed := s.settleBuildLocked(j)
	s.mu.Unlock()
	s.runHooks(changed)
	writeJSON(w, http.StatusOK, map[string]any{})
}

// handleJobChunk stores one gzipped log chunk at its offset.
func (s *Server) handleJobChunk(w http.ResponseWriter, r *http.Request, a *agentRec, j *jobRec) {
	off, err := strconv.ParseUint(r.URL.Query().Get("offset"), 10, 64)
	if err != nil {
		writeMessage(w, http.StatusBadRequest, "offset is not a number")
		return
	}
	var body io.Reader = io.LimitReader(r.Body, 8<<20)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(body)
		if err != nil {
			writeMessage(w, http.StatusBadRequest, "chunk is not gzip")
			return
		}
		body = zr
	}
	data, err := io.ReadAll(body)
	if err != nil {
		writeMessage(w, http.StatusBadRequest, "chunk: "+err.Error())
		return
	}
	s.mu.Lock()
	if j.AgentID != a.ID {
		s.mu.Unlock()
		writeMessage(w, http.StatusUnprocessableEntity, "Job is not this agent's")
		return
	}
	j.chunks[off] = string(data)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{})
}

type finishRequest struct {
	ExitStatus   string `json:"exit_status"`
	Signal       string `json:"signal"`
	SignalReason string `json:"signal_reason"`
	FinishedAt   string `json:"finished_at"`
}

// handleJobFinish ends the job with the agent's exit status: finished, or
// canceled when it was being canceled; the build follows.
func (s *Server) handleJobFinish(w http.ResponseWriter, r *http.Request, a *agentRec, j *jobRec) {
	var req finishRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
		writeMessage(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	s.mu.Lock()
	if j.AgentID != a.ID || !j.State.active() {
		st := j.State
		s.mu.Unlock()
		writeMessage(w, http.StatusUnprocessableEntity, fmt.Sprintf("Job can't be finished because it is %s", st))
		return
	}
	if j.State == JobCanceling {
		j.State = JobCanceled
	} else {
		j.State = JobFinished
	}
	j.ExitStatus, j.Signal, j.SignalReason, j.FinishedAt = req.ExitStatus, req.Signal, req.SignalReason, s.cfg.now()
	a.LastJobFinishedAt = j.FinishedAt
	changed := s.settleBuildLocked(j)
	s.mu.Unlock()
	s.log.Info("job finished", "job", j.ID, "build", j.BuildNumber, "agent", a.ID, "exit_status", req.ExitStatus)
	s.runHooks(changed)
	writeJSON(w, http.StatusOK, map[string]any{})
}
