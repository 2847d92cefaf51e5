package orchestrator_test

import (
	"context"
	"fmt"
	"github.com/vmfleet/vmfleet/internal/testlog"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmfleet/vmfleet/agentd"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/internal/bus/bustest"
	"github.com/vmfleet/vmfleet/internal/sim/buildkitefake"
	"github.com/vmfleet/vmfleet/orchestrator"
	"github.com/vmfleet/vmfleet/orchestrator/buildkite"
	"github.com/vmfleet/vmfleet/orchestrator/web"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

const (
	bkToken       = "bk-token"
	bkOrg         = "acme"
	bkPipeline    = "build-macos-vm"
	webhookSecret = "whsec"
	apiToken      = "api-token"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is a clock the test moves by hand, shared by the orchestrator and
// the fake Buildkite (so webhook signatures and backoff agree).
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func testLogger(t testing.TB, level slog.Level) *slog.Logger { return testlog.New(t, level) }

func testSpec(registry string) events.Spec {
	return events.Spec{Images: events.ImageSpec{
		NameTemplate: events.DefaultNameTemplate, Releases: []string{"14"},
		BunVersion: "1.2.16", BootstrapVersion: "3.6", Registry: registry,
	}}
}

// harness is one test's world: embedded NATS with the stream and buckets,
// the fake Buildkite API (real go-buildkite client), real agents over the
// in-memory tart, and the orchestrator under test.
type harness struct {
	t       *testing.T
	ctx     context.Context
	clock   *clock
	ns      *server.Server
	nc      *nats.Conn
	subj    events.Subjects
	bk      *buildkitefake.Server
	bkURL   string // the fake, or a proxy in front of it
	hookTo  atomic.Pointer[http.Handler]
	hookURL string

	mu     sync.Mutex
	agents map[string]*testAgent

	o     *orchestrator.Orchestrator
	reg   *prometheus.Registry
	stopO func()
}

type testAgent struct {
	host string
	a    *agentd.Agent
	tart *tarttest.Fake
}

func newHarness(t *testing.T, bkOpts ...buildkitefake.Option) *harness {
	t.Helper()
	h := &harness{t: t, ctx: t.Context(), clock: &clock{t: t0}, agents: map[string]*testAgent{}}
	h.subj, _ = events.NewSubjects("")
	h.ns = bustest.Server(t, "")
	h.nc = bustest.Conn(t, h.ns)
	js, err := jetstream.New(h.nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.EnsureStream(h.ctx, js, h.subj, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.EnsureBuckets(h.ctx, js, 1, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := h.hookTo.Load(); p != nil {
			(*p).ServeHTTP(w, r)
			return
		}
		http.Error(w, "no orchestrator", http.StatusServiceUnavailable)
	}))
	t.Cleanup(hooks.Close)
	h.hookURL = hooks.URL
	opts := append([]buildkitefake.Option{
		buildkitefake.WithToken(bkToken), buildkitefake.WithClock(h.clock.Now),
		buildkitefake.WithPipelines(bkOrg, bkPipeline),
		buildkitefake.WithWebhook(hooks.URL+"/webhooks/buildkite", webhookSecret),
		buildkitefake.WithLogger(testLogger(t, slog.LevelInfo).With("component", "buildkitefake")),
	}, bkOpts...)
	if h.bk, err = buildkitefake.New(h.ctx, opts...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.bk.Close)
	h.bkURL = h.bk.URL()
	h.bk.OnStateChange(h.publishBuiltImage)
	return h
}

// publishBuiltImage plays the build step on the pinned host: a passed host
// build leaves a temporary VM that `vmfleet agent publish-image` renames.
func (h *harness) publishBuiltImage(b buildkitefake.Build) {
	host := b.Env[events.EnvTargetHost]
	if b.State != buildkitefake.StatePassed || host == "" {
		return
	}
	h.mu.Lock()
	ta := h.agents[host]
	h.mu.Unlock()
	if ta == nil {
		return
	}
	tmp := fmt.Sprintf("vmfleet-build-%d", b.Number)
	ta.tart.Add(events.VM{Name: tmp})
	if _, err := ta.a.PublishImage(h.ctx, tmp, b.Env[events.EnvImage]); err != nil {
		h.t.Errorf("publish-image on %s: %v", host, err)
	}
}

// config is the orchestrator config the tests start from.
func (h *harness) config(spec events.Spec) orchestrator.Config {
	return orchestrator.Config{
		Spec: spec, Instance: "test", Tick: 20 * time.Millisecond,
		PollInterval: 30 * time.Second, DoubtDelay: 30 * time.Second,
		BackoffBase: time.Minute, BackoffMax: 10 * time.Minute,
		MaxBuilds: 50, MaxAttempts: 3, PullConcurrency: 10,
		RequestTimeout: 5 * time.Second, PullTimeout: 10 * time.Second,
		WebhookSecret: webhookSecret, APIToken: apiToken,
	}
}

// start runs an orchestrator with cfg until stop or the test's end.
func (h *harness) start(cfg orchestrator.Config) {
	h.t.Helper()
	client, err := buildkite.New(buildkite.Config{
		APIURL: h.bkURL, Token: bkToken, Org: bkOrg, Pipeline: bkPipeline, Timeout: 5 * time.Second,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	conn, err := bus.Connect(bus.ConnConfig{URLs: []string{h.ns.ClientURL()}, Name: "orchestrator", ReconnectWait: 50 * time.Millisecond}, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	h.reg = prometheus.NewRegistry()
	o, err := orchestrator.New(conn, client, cfg, orchestrator.WithClock(h.clock.Now), orchestrator.WithRegistry(h.reg),
		orchestrator.WithLogger(testLogger(h.t, slog.LevelInfo).With("component", "orchestrator")))
	if err != nil {
		h.t.Fatal(err)
	}
	srv, err := web.New(o)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	handler := srv.Handler()
	h.hookTo.Store(&handler)
	h.o = o
	var once sync.Once
	h.stopO = func() {
		once.Do(func() {
			h.hookTo.Store(nil)
			cancel()
			select {
			case err := <-done:
				if err != nil {
					h.t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				h.t.Errorf("Run did not return within 10s of cancel")
			}
			conn.Close()
		})
	}
	h.t.Cleanup(h.stopO)
	h.waitFor("orchestrator ready", o.Ready)
}

// addAgents starts n real agents over in-memory tart, named <prefix>-NNN;
// opts are added to each agent's options.
func (h *harness) addAgents(n int, prefix string, spec events.ImageSpec, opts ...agentd.Option) []*testAgent {
	h.t.Helper()
	var out []*testAgent
	for i := range n {
		name := fmt.Sprintf("%s-%03d", prefix, i)
		dir := h.t.TempDir()
		fake := tarttest.NewFake("")
		conn := bustest.Conn(h.t, h.ns)
		a, err := agentd.New(agentd.Config{
			Hostname: name, Images: spec, TartHome: filepath.Join(dir, "tart"), StateDir: filepath.Join(dir, "state"),
			Interval: time.Hour, TartTimeout: 5 * time.Second,
		}, fake, append([]agentd.Option{agentd.WithConn(conn), agentd.WithLogger(testLogger(h.t, slog.LevelWarn).With("component", "agent"))}, opts...)...)
		if err != nil {
			h.t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		h.t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				h.t.Errorf("agent %s: %v", name, err)
			}
		})
		ta := &testAgent{host: a.Host(), a: a, tart: fake}
		h.mu.Lock()
		h.agents[ta.host] = ta
		h.mu.Unlock()
		out = append(out, ta)
	}
	return out
}

// waitFor polls cond until it holds, failing the test after 20 s.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// passes is how many full reconcile passes the orchestrator has made.
func (h *harness) passes() uint64 {
	mfs, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "vmfleet_orchestrator_reconcile_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "kind" && l.GetValue() == "full" {
					return m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return 0
}

// settle waits for n more full passes, so whatever the state asks for has
// been asked for several times over.
func (h *harness) settle(n uint64) {
	h.t.Helper()
	target := h.passes() + n
	h.waitFor(fmt.Sprintf("%d full passes", n), func() bool { h.o.Trigger(); return h.passes() >= target })
}

// record returns the orchestrator's build record for key.
func (h *harness) record(key string) (orchestrator.Record, bool) {
	for _, r := range h.o.Builds() {
		if r.Key == key {
			return r, true
		}
	}
	return orchestrator.Record{}, false
}

func (h *harness) waitState(key string, st events.BuildState) orchestrator.Record {
	h.t.Helper()
	var r orchestrator.Record
	h.waitFor(fmt.Sprintf("build %s %s", key, st), func() bool {
		var ok bool
		r, ok = h.record(key)
		return ok && r.State == st
	})
	return r
}

// hostReady reports whether the orchestrator sees host ready for every release.
func (h *harness) hostReady(host string) bool {
	v, ok := h.o.Host(host)
	return ok && v.State == orchestrator.HostReady
}
