package orchestrator

import (
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/sim/buildkitefake"
	"github.com/vmfleet/vmfleet/orchestrator/buildkite"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
	"github.com/vmfleet/vmfleet/orchestrator/internal/orchtest"
	"github.com/vmfleet/vmfleet/orchestrator/levers"
)

const (
	agentsOrg   = "acme"
	agentsToken = "bk-agents-token"
)

// agentClock is a settable clock shared by the orchestrator and the fake.
type agentClock = orchtest.Clock

// agentsEnv is an orchestrator without NATS whose Buildkite is the fake.
type agentsEnv struct {
	t      *testing.T
	clock  *agentClock
	bk     *buildkitefake.Server
	api    *buildkite.Client
	o      *Orchestrator
	seq    map[string]uint64
	mu     sync.Mutex
	events []events.TagDrift
}

func newAgentsEnv(t *testing.T, cfg Config, opts ...Option) *agentsEnv {
	t.Helper()
	e := &agentsEnv{t: t, clock: orchtest.NewClock(t0), seq: map[string]uint64{}}
	var err error
	e.bk, err = buildkitefake.New(t.Context(), buildkitefake.WithToken(agentsToken), buildkitefake.WithClock(e.clock.Now),
		buildkitefake.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.bk.Close)
	e.api, err = buildkite.New(buildkite.Config{APIURL: e.bk.URL(), Token: agentsToken, Org: agentsOrg, Pipeline: "build-macos-vm", Timeout: 10 * time.Second, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Spec.Images = testImages()
	o, err := New(nil, e.api, cfg, append([]Option{WithClock(e.clock.Now), WithLogger(testLogger(t)), withStore(builds.NewMemStore())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	o.fleet.MarkCaughtUp()
	o.started.Store(true)
	if o.agents == nil {
		t.Fatal("Got(agents manager) = nil, want one: the client implements BuildkiteAgents")
	}
	o.pubDrift = func(d events.TagDrift) {
		e.mu.Lock()
		e.events = append(e.events, d)
		e.mu.Unlock()
	}
	e.o = o
	return e
}

// report ingests a health report of host with the given releases ready (13,
// 14) and tags, seen now.
func (e *agentsEnv) report(host string, ready13, ready14 bool, tags ...string) {
	e.t.Helper()
	e.seq[host]++
	h := health(host, "boot", e.seq[host], e.clock.Now())
	h.Releases[0].Ready, h.Releases[1].Ready = ready13, ready14
	h.Ready = ready13 && ready14
	h.BuildkiteTags = tags
	if !e.o.fleet.Ingest(e.o.subj.Health(host), encode(e.t, h), e.clock.Now()) {
		e.t.Fatalf("health of %s not ingested", host)
	}
}

func (e *agentsEnv) drifts() []events.TagDrift {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]events.TagDrift(nil), e.events...)
}

func (e *agentsEnv) paused(id string) bool {
	e.t.Helper()
	a, err := e.bk.GetAgent(agentsOrg, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return a.Paused
}

func (e *agentsEnv) puts(route string, status int) int {
	return e.bk.RequestCount(http.MethodPut, route, status)
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return -1
}

func TestAgentsConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		bk   builds.Buildkite
		ok   bool
		on   bool
	}{
		{name: "no Buildkite", cfg: Config{}, ok: true},
		{name: "pause without Buildkite", cfg: Config{Levers: levers.Config{Pause: true}}},
		{name: "pause with listing off", cfg: Config{Levers: levers.Config{Pause: true, Interval: -1}}, bk: &buildkite.Client{}},
		{name: "pause timeout too long", cfg: Config{Levers: levers.Config{Pause: true, PauseTimeout: 8 * 24 * time.Hour}}, bk: &buildkite.Client{}},
		{name: "pause timeout under 4 intervals", cfg: Config{Levers: levers.Config{Pause: true, PauseTimeout: 3 * time.Minute}}, bk: &buildkite.Client{}},
		{name: "pause", cfg: Config{Levers: levers.Config{Pause: true, PauseTimeout: 4 * time.Minute}}, bk: &buildkite.Client{}, ok: true, on: true},
		{name: "listing off", cfg: Config{Levers: levers.Config{Interval: -1}}, bk: &buildkite.Client{}, ok: true},
		{name: "drift check on", cfg: Config{}, bk: &buildkite.Client{}, ok: true, on: true},
		{name: "builds only", cfg: Config{}, bk: &fakeBK{}, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Spec.Images = testImages()
			o, err := New(nil, tt.bk, tt.cfg)
			if (err == nil) != tt.ok || (tt.ok && (o.agents != nil) != tt.on) {
				t.Errorf("Got(New) = %v, agents on %v, want ok %v on %v", err, err == nil && o.agents != nil, tt.ok, tt.on)
			}
			if err != nil && !errors.Is(err, ErrInvalidOption) {
				t.Errorf("Got(error) = %v, want ErrInvalidOption", err)
			}
		})
	}
}

func TestHostViewShowsDriftAndPause(t *testing.T) {
	t.Parallel()
	e := newAgentsEnv(t, Config{Levers: levers.Config{Pause: true}})
	e.report("mac-01", false, false, "vmfleet-host=mac-01", "vm-ready-macos-13=false")
	e.bk.AddAgent(agentsOrg, buildkitefake.Agent{Name: "mac-01-1", Hostname: "mac-01", MetaData: []string{"vmfleet-host=mac-01", "vm-ready-macos-13=true"}})
	e.o.agents.Pass(t.Context())
	e.clock.Set(t0.Add(6 * time.Minute))
	e.report("mac-01", false, false, "vmfleet-host=mac-01", "vm-ready-macos-13=false") // not stale
	e.o.agents.Pass(t.Context())
	v, ok := e.o.Host("mac-01")
	since := t0
	want := HostView{Drift: true, DriftSince: &since, DriftReason: events.DriftTagsDiffer, Paused: true}
	got := HostView{Drift: v.Drift, DriftSince: v.DriftSince, DriftReason: v.DriftReason, Paused: v.Paused}
	if diff := cmp.Diff(want, got); !ok || diff != "" {
		t.Errorf("Got(host view) mismatch (-want +got):\n%s", diff)
	}
}
