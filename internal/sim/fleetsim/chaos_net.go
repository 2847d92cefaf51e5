package fleetsim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/internal/rungroup"
	simworld "github.com/vmfleet/vmfleet/internal/sim/world"
	"github.com/vmfleet/vmfleet/orchestrator"
	"github.com/vmfleet/vmfleet/orchestrator/lease"
)

// worldOptions are the world's options under chaos: a lease short enough
// for a failover within minutes of fleet time, and quick reconnects.
func (c *chaosRun) worldOptions() []simworld.Option {
	if c == nil {
		return nil
	}
	return []simworld.Option{simworld.WithLeaderTTL(c.leaseTTL()), simworld.WithReconnectWait(100 * time.Millisecond)}
}

// leaseTTL is the replicas' lease TTL: 3 min of fleet time, at least 2 s.
func (c *chaosRun) leaseTTL() time.Duration { return c.s.cfg.real(3*time.Minute, 2*time.Second) }

// setup puts the chaos between the orchestrators and the fake Buildkite (a
// proxy that answers 429s, 5xx and lost create answers) and follows the
// fake's builds (failures, hangs).
func (c *chaosRun) setup(e *env) error {
	if c == nil {
		return nil
	}
	c.e = e
	target, err := url.Parse(e.w.BuildkiteAPI)
	if err != nil {
		return err
	}
	p := &bkProxy{c: c, rp: httputil.NewSingleHostReverseProxy(target), first429: map[string]time.Time{}}
	p.srv = httptest.NewServer(p)
	c.bkProx = p
	e.closeChaos = p.srv.Close
	e.bk.OnStateChange(c.onBuild)
	return nil
}

// launch runs the orchestrator replicas and the injector in g; it returns
// the condition the fleet waits for: a replica leads and is ready.
func (c *chaosRun) launch(ctx context.Context, g *rungroup.Group, e *env, dir string) func() bool {
	c.g, c.ctx, c.url, c.dir = g, ctx, e.ns.ClientURL(), dir
	g.Go(func() error { return c.reps.run(ctx) })
	g.Go(func() error { return c.run(ctx) })
	return c.reps.leading
}

// newOrchestrator builds the orchestrator (without chaos) or, with it, two
// replicas sharing the lease, and returns the first.
func (s *Sim) newOrchestrator(e *env, cfg orchestrator.Config, opts ...orchestrator.Option) (*simworld.Orchestrator, error) {
	if s.chaos == nil {
		return e.w.NewOrchestrator(cfg, opts...)
	}
	r := &replicas{c: s.chaos, cfg: cfg, opts: opts, ttl: s.chaos.leaseTTL(), byID: map[string]*replica{}}
	s.chaos.reps = r
	var first *simworld.Orchestrator
	for _, id := range []string{"sim-a", "sim-b"} {
		rep, err := r.build(id)
		if err != nil {
			return nil, err
		}
		r.ids = append(r.ids, id)
		r.byID[id] = rep
		if first == nil {
			first = rep.wo
		}
	}
	return first, nil
}

// replicas are the orchestrator replicas of a chaos run.
type replicas struct {
	c    *chaosRun
	cfg  orchestrator.Config
	opts []orchestrator.Option
	ttl  time.Duration
	ids  []string

	mu    sync.Mutex
	byID  map[string]*replica // nil while killed
	epoch int
}

type replica struct {
	id     string
	client string // its Buildkite client's name at the proxy
	wo     *simworld.Orchestrator
	h      http.Handler
	cancel context.CancelFunc
	done   chan struct{}
	killed bool
}

// build makes a replica named id with a lease of its own on the leader
// bucket and a Buildkite client the proxy tells apart.
func (r *replicas) build(id string) (*replica, error) {
	w := r.c.e.w
	l, err := lease.New(w.Buckets.Leader, id, r.ttl)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.epoch++
	client := id + "-" + strconv.Itoa(r.epoch)
	r.mu.Unlock()
	w.BuildkiteAPI = r.c.bkProx.srv.URL + "/" + client + "/"
	cfg := r.cfg
	cfg.Instance, cfg.LeaderTTL = id, r.ttl
	wo, err := w.NewOrchestrator(cfg, append(slices.Clone(r.opts), orchestrator.WithLease(l))...)
	if err != nil {
		return nil, err
	}
	return &replica{id: id, client: client, wo: wo, h: wo.Web.Handler()}, nil
}

// run runs every replica until ctx ends, then waits for them.
func (r *replicas) run(ctx context.Context) error {
	r.mu.Lock()
	for _, id := range r.ids {
		r.launch(ctx, r.byID[id])
	}
	r.mu.Unlock()
	<-ctx.Done()
	r.mu.Lock()
	var dones []chan struct{}
	for _, rep := range r.byID {
		if rep != nil && rep.done != nil {
			dones = append(dones, rep.done)
		}
	}
	r.mu.Unlock()
	for _, d := range dones {
		<-d
	}
	return nil
}

// launch runs rep (the caller holds mu). A replica that stops on its own is
// started again a fleet minute later, as a supervisor would.
func (r *replicas) launch(ctx context.Context, rep *replica) {
	rctx, cancel := context.WithCancel(ctx)
	rep.cancel, rep.done = cancel, make(chan struct{})
	go func() {
		defer close(rep.done)
		web := make(chan struct{})
		go func() { defer close(web); _ = rep.wo.Web.Run(rctx) }()
		err := rep.wo.Run(rctx)
		cancel()
		<-web
		rep.wo.Conn.Close()
		r.mu.Lock()
		killed := rep.killed
		r.mu.Unlock()
		if ctx.Err() != nil || killed {
			return
		}
		r.c.s.opts.log.Warn("chaos: orchestrator replica stopped on its own; starting it again", "replica", rep.id, "err", err)
		r.c.later(time.Now().Add(r.c.real(time.Minute)), func(ctx context.Context) { r.restart(ctx, rep.id) })
	}()
}

// kill kills the leading replica as kill -9 would: its connection goes at
// once, nothing is handed back; the lease expires. It returns its id ("":
// no replica leads).
func (r *replicas) kill(ctx context.Context) string {
	r.mu.Lock()
	var rep *replica
	for _, id := range r.ids {
		if x := r.byID[id]; x != nil && x.wo.IsLeader() {
			rep = x
		}
	}
	if rep == nil {
		r.mu.Unlock()
		return ""
	}
	rep.killed = true
	r.byID[rep.id] = nil
	r.mu.Unlock()
	rep.wo.Conn.Close()
	rep.cancel()
	select {
	case <-rep.done:
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		r.c.s.opts.log.Warn("chaos: killed replica still running after 10 s", "replica", rep.id)
	}
	return rep.id
}

// restart starts a new replica named id (if none runs).
func (r *replicas) restart(ctx context.Context, id string) {
	if ctx.Err() != nil {
		return
	}
	rep, err := r.build(id)
	if err != nil {
		r.c.s.opts.log.Error("chaos: restart orchestrator replica", "replica", id, "err", err)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old := r.byID[id]; old != nil && !old.killed {
		select {
		case <-old.done:
		default:
			rep.wo.Close()
			return // it runs
		}
	}
	r.byID[id] = rep
	r.launch(r.c.ctx, rep)
}

// leading tells whether a replica leads and is ready.
func (r *replicas) leading() bool {
	return r.leader() != nil
}

func (r *replicas) leader() *replica {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range r.ids {
		if rep := r.byID[id]; rep != nil && rep.wo.IsLeader() && rep.wo.Ready() {
			return rep
		}
	}
	return nil
}

// handler is what the front serves: the leader's API (else a live
// replica's), as a load balancer checking /readyz would.
func (r *replicas) handler() http.Handler {
	if rep := r.leader(); rep != nil {
		return rep.h
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range r.ids {
		if rep := r.byID[id]; rep != nil {
			return rep.h
		}
	}
	return nil
}

// front is the HTTP front's handler: without chaos h; with it the leading
// replica's, with webhooks lost, duplicated or delayed on the way.
func (c *chaosRun) front(h http.Handler) http.Handler {
	if c == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/webhooks/buildkite" && r.Method == http.MethodPost && c.webhook(w, r) {
			return
		}
		c.serve(w, r)
	})
}

func (c *chaosRun) serve(w http.ResponseWriter, r *http.Request) {
	h := c.reps.handler()
	if h == nil {
		http.Error(w, "no orchestrator", http.StatusServiceUnavailable)
		return
	}
	h.ServeHTTP(w, r)
}

// webhook applies a webhook fault to the Nth webhook of the chaos window;
// it tells whether it answered.
func (c *chaosRun) webhook(w http.ResponseWriter, r *http.Request) bool {
	if !c.inWindow() {
		return false
	}
	c.mu.Lock()
	c.nWebhook++
	f, ok := c.byWebhook[c.nWebhook]
	c.mu.Unlock()
	if !ok {
		return false
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return false
	}
	var hook struct {
		Event string `json:"event"`
		Build struct {
			Number int `json:"number"`
		} `json:"build"`
	}
	_ = json.Unmarshal(body, &hook)
	what := fmt.Sprintf("%s of build #%d", hook.Event, hook.Build.Number)
	replay := func() {
		req := r.Clone(context.WithoutCancel(r.Context()))
		req.Body = io.NopCloser(bytes.NewReader(body))
		c.serve(httptest.NewRecorder(), req)
	}
	// Recovery: until the leader knows the build's state as Buildkite
	// has it (buildKnown), from the loss, from the copy's arrival (did it
	// set the record back?), from when the late one was due.
	known := c.buildKnown(hook.Build.Number)
	switch f.Kind {
	case FaultWebhookLost:
		c.instant(f, what+" lost", known)
	case FaultWebhookDuplicated:
		replay()
		c.fired(f, fmt.Sprintf("%s delivered, and again %s later", what, f.For.D()))
		c.later(time.Now().Add(c.real(f.For.D())), func(context.Context) { replay(); c.ended(f.Kind, known) })
	case FaultWebhookReordered:
		c.fired(f, fmt.Sprintf("%s held back %s, after later ones", what, f.For.D()))
		c.probe(f.Kind, time.Now(), known)
		c.later(time.Now().Add(c.real(f.For.D())), func(context.Context) { replay(); c.ended(f.Kind, nil) })
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"result":"accepted"}`)
	return true
}

// bkProxy stands between the orchestrators and the fake Buildkite: it
// answers 429 storms and 5xx bursts, and the Nth create's answer with a
// 500 once the fake created the build. Each replica's client comes under a
// path prefix of its own (/<client>/v2/...), so that the proxy tells them
// apart.
type bkProxy struct {
	c   *chaosRun
	rp  *httputil.ReverseProxy
	srv *httptest.Server

	mu       sync.Mutex
	until    time.Time
	status   int
	kind     string
	first429 map[string]time.Time // by client: the first 429 of the storm
	ignored  bool                 // a violation was recorded for this storm
	lastOK   time.Time
}

func (p *bkProxy) storm(f Fault, until time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.until, p.kind, p.ignored = until, f.Kind, false
	p.first429 = map[string]time.Time{}
	p.status = http.StatusTooManyRequests
	if f.Kind == FaultBuildkite5xx {
		p.status = f.Value
	}
}

func (p *bkProxy) what(f Fault) string {
	if f.Kind == FaultBuildkite5xx {
		return strconv.Itoa(f.Value)
	}
	return "429 (RateLimit-Reset: the storm's end)"
}

// answeredSince is a recovery condition: a Buildkite request was answered
// 2xx after at.
func (p *bkProxy) answeredSince(at time.Time) func() bool {
	return func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.lastOK.After(at)
	}
}

func (p *bkProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	client, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	r.URL.Path, r.URL.RawPath = "/"+rest, ""
	now := time.Now()
	p.mu.Lock()
	storm, status, until := now.Before(p.until), p.status, p.until
	var violation string
	if storm && status == http.StatusTooManyRequests {
		if first, ok := p.first429[client]; !ok {
			p.first429[client] = now
		} else if now.Sub(first) > time.Second && !p.ignored {
			p.ignored = true
			violation = fmt.Sprintf("%s %s from %s %s after a 429 whose RateLimit-Reset announced %s", r.Method, r.URL.Path, client,
				now.Sub(first).Round(time.Millisecond), until.Sub(first).Round(time.Second))
		}
	}
	if storm {
		p.c.mu.Lock()
		p.c.refused[strconv.Itoa(status)]++
		p.c.mu.Unlock()
	}
	p.mu.Unlock()
	if violation != "" {
		p.c.s.violate(Violation{Kind: VIgnoredRateLimit, Detail: violation})
	}
	if storm {
		if status == http.StatusTooManyRequests {
			secs := int(math.Ceil(until.Sub(now).Seconds()))
			w.Header().Set("RateLimit-Remaining", "0")
			w.Header().Set("RateLimit-Limit", "200")
			w.Header().Set("RateLimit-Reset", strconv.Itoa(secs))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = fmt.Fprintf(w, `{"message":"You have exceeded your API rate limit. Please wait %d seconds before making more requests."}`, secs)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>\n", status, http.StatusText(status))
		return
	}
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/builds") && p.c.inWindow() {
		p.c.mu.Lock()
		p.c.nCreate++
		f, ok := p.c.byCreate[p.c.nCreate]
		p.c.mu.Unlock()
		if ok {
			rec := httptest.NewRecorder()
			p.rp.ServeHTTP(rec, r)
			if rec.Code == http.StatusCreated {
				var b struct {
					Number int `json:"number"`
				}
				_ = json.Unmarshal(rec.Body.Bytes(), &b)
				p.c.instant(f, fmt.Sprintf("build #%d created, the answer replaced by a 500", b.Number), p.answeredSince(time.Now()))
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = io.WriteString(w, "<html><body><h1>500 Internal Server Error</h1></body></html>\n")
				return
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
	}
	rec := &okRecorder{ResponseWriter: w}
	p.rp.ServeHTTP(rec, r)
	if rec.status/100 == 2 {
		p.mu.Lock()
		p.lastOK = time.Now()
		p.mu.Unlock()
	}
}

type okRecorder struct {
	http.ResponseWriter
	status int
}

func (r *okRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *okRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// stopNATS shuts the nats-server down (its store stays).
func (c *chaosRun) stopNATS() error {
	ns := c.e.w.NATS
	if ns == nil {
		return fmt.Errorf("no nats-server")
	}
	ns.Shutdown()
	ns.WaitForShutdown()
	return nil
}

// startNATS starts the nats-server again on the same port and store.
func (c *chaosRun) startNATS() error {
	u, err := url.Parse(c.url)
	if err != nil {
		return err
	}
	sc := c.e.sc
	sc.Listen = u.Host
	ns, err := bus.StartServer(sc, c.s.opts.compLog.With("component", "nats-server"))
	if err != nil {
		return err
	}
	c.e.w.NATS, c.e.ns = ns, ns
	return nil
}
