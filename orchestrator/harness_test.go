package orchestrator_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmfleet/vmfleet/agentd"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus/bustest"
	"github.com/vmfleet/vmfleet/internal/sim/buildkitefake"
	"github.com/vmfleet/vmfleet/internal/sim/world"
	"github.com/vmfleet/vmfleet/internal/testlog"
	"github.com/vmfleet/vmfleet/orchestrator"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
	"github.com/vmfleet/vmfleet/orchestrator/internal/orchtest"
	"github.com/vmfleet/vmfleet/orchestrator/pulls"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

const (
	bkToken       = "bk-token"
	bkOrg         = "acme"
	bkPipeline    = "build-macos-vm"
	webhookSecret = "whsec"
	apiToken      = "api-token"
)

var t0 = orchtest.T0

// clock is a clock the test moves by hand, shared by the orchestrator and
// the fake Buildkite (so webhook signatures and backoff agree).
type clock = orchtest.Clock

func testLogger(t testing.TB, level slog.Level) *slog.Logger { return testlog.New(t, level) }

func testSpec(registry string) events.Spec {
	return events.Spec{Images: events.ImageSpec{
		NameTemplate: events.DefaultNameTemplate, Releases: []string{"14"},
		BunVersion: "1.2.16", BootstrapVersion: "3.6", Registry: registry,
	}}
}

// harness is one test's world (package world: embedded NATS with the stream
// and buckets, the fake Buildkite API behind a real go-buildkite client, the
// HTTP front its webhooks arrive at), real agents over the in-memory tart,
// and the orchestrator under test.
type harness struct {
	t       *testing.T
	ctx     context.Context
	clock   *clock
	w       *world.World
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
	h := &harness{t: t, ctx: t.Context(), clock: orchtest.NewClock(t0), agents: map[string]*testAgent{}}
	w, err := world.New(h.ctx, world.WithToken(bkToken), world.WithPipeline(bkOrg, bkPipeline),
		world.WithWebhooks(webhookSecret), world.WithBuildkiteTimeout(5*time.Second), world.WithReconnectWait(50*time.Millisecond),
		world.WithBuildkiteClock(h.clock.Now),
		world.WithBuildkite(append([]buildkitefake.Option{buildkitefake.WithClock(h.clock.Now),
			buildkitefake.WithLogger(testLogger(t, slog.LevelInfo).With("component", "buildkitefake")),
		}, bkOpts...)...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	h.w = w
	h.ns, h.nc, h.subj, h.bk, h.bkURL, h.hookURL = w.NATS, w.Conn, w.Subjects, w.Buildkite, w.Buildkite.URL(), w.URL
	w.Serve(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if p := h.hookTo.Load(); p != nil {
			(*p).ServeHTTP(rw, r)
			return
		}
		http.Error(rw, "no orchestrator", http.StatusServiceUnavailable)
	}))
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
		Builds: builds.Config{PollInterval: 30 * time.Second, DoubtDelay: 30 * time.Second,
			BackoffBase: time.Minute, BackoffMax: 10 * time.Minute, MaxBuilds: 50, MaxAttempts: 3},
		Pulls:          pulls.Config{Concurrency: 10, Timeout: 10 * time.Second},
		RequestTimeout: 5 * time.Second,
		WebhookSecret:  webhookSecret, APIToken: apiToken,
	}
}

// start runs an orchestrator with cfg until stop or the test's end.
func (h *harness) start(cfg orchestrator.Config) {
	h.t.Helper()
	h.w.BuildkiteAPI = h.bkURL
	h.reg = prometheus.NewRegistry()
	o, err := h.w.NewOrchestrator(cfg, orchestrator.WithClock(h.clock.Now), orchestrator.WithRegistry(h.reg),
		orchestrator.WithLogger(testLogger(h.t, slog.LevelInfo).With("component", "orchestrator")))
	if err != nil {
		h.t.Fatal(err)
	}
	o.Start()
	handler := o.Web.Handler()
	h.hookTo.Store(&handler)
	h.o = o.Orchestrator
	var once sync.Once
	h.stopO = func() {
		once.Do(func() {
			h.hookTo.Store(nil)
			if err := o.Stop(10 * time.Second); err != nil {
				h.t.Errorf("Run: %v", err)
			}
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
		}, fake, append([]agentd.Option{agentd.WithConn(conn), agentd.WithLogger(testLogger(h.t, slog.LevelWarn).With("component", "agent")),
			agentd.WithDisk(harnessDisk)}, opts...)...)
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

// harnessDisk is the disk of every harness host: its images live in an
// in-memory tart, so its disk is simulated too, roomy enough for any staged
// image. Measuring the machine running the tests would make a staged
// image no_space (and the test fail) wherever that disk has less free
// than an image's 20 GB.
func harnessDisk(path string) *events.Disk {
	return &events.Disk{Path: path, FreeBytes: 800e9, TotalBytes: 1e12}
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
func (h *harness) record(key string) (builds.Record, bool) {
	for _, r := range h.o.Builds() {
		if r.Key == key {
			return r, true
		}
	}
	return builds.Record{}, false
}

func (h *harness) waitState(key string, st events.BuildState) builds.Record {
	h.t.Helper()
	var r builds.Record
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
