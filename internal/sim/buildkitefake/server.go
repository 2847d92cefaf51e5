package buildkitefake

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Routes, as counted by RequestCount and matched by Fault.Route.
const (
	RouteAllBuilds      = "/v2/builds"
	RouteOrgBuilds      = "/v2/organizations/{org}/builds"
	RoutePipelineBuilds = "/v2/organizations/{org}/pipelines/{pipeline}/builds"
	RouteBuild          = "/v2/organizations/{org}/pipelines/{pipeline}/builds/{number}"
	RouteCancel         = "/v2/organizations/{org}/pipelines/{pipeline}/builds/{number}/cancel"
	RouteAgents         = "/v2/organizations/{org}/agents"
	RouteAgent          = "/v2/organizations/{org}/agents/{id}"
	RoutePause          = "/v2/organizations/{org}/agents/{id}/pause"
	RouteResume         = "/v2/organizations/{org}/agents/{id}/resume"
)

// Server is a fake Buildkite REST API v2. Create it with New; all methods are
// safe for concurrent use.
type Server struct {
	cfg  config
	log  *slog.Logger
	http *httptest.Server
	mux  *http.ServeMux
	// agentMux serves the agent API (/v3/...), agentapi.go.
	agentMux *http.ServeMux
	baseURL  string // with trailing slash

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	mu        sync.Mutex
	builds    []*Build // creation order
	pipelines map[string]*pipelineRec
	numbers   map[string]int
	agents    []*agentRec
	hooks     []func(Build)
	faults    []*Fault
	holds     map[string]time.Time // by buildKey: running builds held (hold.go)
	rate      rateWindow
	requests  map[RequestKey]int
	created   map[string]int
	live      map[string]int
	maxLive   map[string]int
	// jobs of builds served to real agents, and those builds by ID (jobs.go).
	jobs        []*jobRec
	agentBuilds map[string]bool

	wh webhookQueue
}

// New starts a fake Buildkite API on a loopback port (or WithAddr). Its
// webhook delivery goroutine ends when ctx is done or Close is called.
func New(ctx context.Context, opts ...Option) (*Server, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	s := &Server{
		cfg:       cfg,
		log:       cfg.logger,
		pipelines: map[string]*pipelineRec{},
		numbers:   map[string]int{},
		requests:  map[RequestKey]int{},
		created:   map[string]int{},
		live:      map[string]int{},
		maxLive:   map[string]int{},

		agentBuilds: map[string]bool{},
	}
	s.wh.init()
	s.routes()
	var l net.Listener
	if cfg.addr != "" {
		var err error
		if l, err = net.Listen("tcp", cfg.addr); err != nil {
			return nil, fmt.Errorf("listen on %s: %w", cfg.addr, err)
		}
	}
	s.ctx, s.cancel = context.WithCancel(ctx)
	s.http = httptest.NewUnstartedServer(s)
	if l != nil {
		_ = s.http.Listener.Close()
		s.http.Listener = l
	}
	// Set before Start: with WithAddr a client may call before New returns.
	s.baseURL = "http://" + s.http.Listener.Addr().String() + "/"
	s.http.Start()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.webhookLoop(s.ctx)
	}()
	return s, nil
}

// URL is the base URL to hand to buildkite.WithBaseURL; it ends with "/".
func (s *Server) URL() string { return s.baseURL }

// Close stops the server and the webhook goroutine. In-flight requests held
// by injected latency end at once.
func (s *Server) Close() {
	s.once.Do(func() {
		s.cancel()
		s.http.Close()
		s.wg.Wait()
		s.wh.client.CloseIdleConnections()
	})
}

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("POST "+RoutePipelineBuilds, s.handleCreate)
	m.HandleFunc("GET "+RoutePipelineBuilds, s.handleList)
	m.HandleFunc("GET "+RouteOrgBuilds, s.handleList)
	m.HandleFunc("GET "+RouteAllBuilds, s.handleList)
	m.HandleFunc("GET "+RouteBuild, s.handleGet)
	m.HandleFunc("PUT "+RouteCancel, s.handleCancel)
	m.HandleFunc("GET "+RouteAgents, s.handleAgents)
	m.HandleFunc("GET "+RouteAgent, s.handleAgent)
	m.HandleFunc("PUT "+RoutePause, s.handlePause)
	m.HandleFunc("PUT "+RouteResume, s.handleResume)
	m.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeMessage(w, http.StatusNotFound, "Not Found")
	})
	s.mux = m
	s.agentMux = s.agentRoutes()
}

// ServeHTTP counts the request, sets RateLimit-* headers, checks auth, applies
// injected faults and the rate limit, then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/v3/") {
		s.serveAgentAPI(w, r)
		return
	}
	_, pattern := s.mux.Handler(r)
	route := pattern
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		route = pattern[i+1:]
	}
	if route == "/" {
		route = ""
	}
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	defer func() { s.countRequest(r.Method, route, rec.status) }()

	limited, reset := s.rateHeaders(rec.Header())
	if !s.authorized(r) {
		writeMessage(rec, http.StatusUnauthorized,
			"Authentication required. Please supply a valid API Access Token: https://buildkite.com/docs/apis/rest-api#authentication")
		return
	}
	if f, ok := s.takeFault(r.Method, route); ok {
		if !s.applyFault(rec, r, f, reset) {
			return
		}
	}
	if limited {
		s.writeRateLimited(rec, reset)
		return
	}
	s.mux.ServeHTTP(rec, r)
}

func (s *Server) authorized(r *http.Request) bool {
	if s.cfg.token == "" {
		return true
	}
	return r.Header.Get("Authorization") == "Bearer "+s.cfg.token
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeMessage(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg})
}

// pipeline returns the pipeline record, creating it on first use, or nil if
// WithPipelines excludes it. Caller holds s.mu.
func (s *Server) pipelineLocked(org, slug string) *pipelineRec {
	if s.cfg.pipelines != nil && !s.cfg.pipelines[org][slug] {
		return nil
	}
	k := org + "/" + slug
	p := s.pipelines[k]
	if p == nil {
		p = &pipelineRec{id: newUUID(), org: org, slug: slug, created: s.cfg.now()}
		s.pipelines[k] = p
	}
	return p
}

// orgExists reports whether org exists under WithPipelines (always, without it).
func (s *Server) orgExists(org string) bool {
	return s.cfg.pipelines == nil || s.cfg.pipelines[org] != nil
}

// sleepCtx waits d or until ctx or the server ends; it reports whether d elapsed.
func (s *Server) sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-s.ctx.Done():
	}
	return false
}
