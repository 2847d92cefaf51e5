package browser_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/vmfleet/vmfleet/internal/testlog"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/vmfleet/vmfleet/agentd"
	"github.com/vmfleet/vmfleet/agentd/bkagent"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus/bustest"
	"github.com/vmfleet/vmfleet/internal/sim/buildkitefake"
	simworld "github.com/vmfleet/vmfleet/internal/sim/world"
	"github.com/vmfleet/vmfleet/orchestrator"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

func testLogger(t testing.TB, level slog.Level) *slog.Logger { return testlog.New(t, level) }

var images = events.ImageSpec{NameTemplate: events.DefaultNameTemplate, Releases: []string{"13", "14"}, BunVersion: "1.2.16", BootstrapVersion: "3.6"}

// world is a small fleet behind a real orchestrator: its HTTP server is what
// the browser loads.
type world struct {
	t      *testing.T
	ns     *server.Server
	nc     *nats.Conn
	subj   events.Subjects
	bk     *buildkitefake.Server
	o      *orchestrator.Orchestrator
	url    string
	agents map[string]*hostAgent
}

type hostAgent struct {
	a    *agentd.Agent
	tart *tarttest.Fake
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := t.Context()
	w := &world{t: t, agents: map[string]*hostAgent{}}
	// Builds run for an hour: they stay in flight while the test looks.
	sw, err := simworld.New(ctx, simworld.WithToken("bk-token"), simworld.WithPipeline("acme", "build-macos-vm"),
		simworld.WithBuildkiteTimeout(5*time.Second),
		simworld.WithBuildkite(buildkitefake.WithTimings(0, time.Hour), buildkitefake.WithLogger(testLogger(t, slog.LevelWarn))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sw.Close)
	w.ns, w.nc, w.subj, w.bk, w.url = sw.NATS, sw.Conn, sw.Subjects, sw.Buildkite, sw.URL
	o, err := sw.NewOrchestrator(orchestrator.Config{
		Spec: events.Spec{Images: images, Cleanup: events.CleanupPolicy{KeepBunVersions: 1,
			Windows: []events.Window{{Schedule: "0 2 * * *", Duration: events.Duration(3 * time.Hour)}}}},
		Instance: "browser", Tick: 100 * time.Millisecond, Builds: builds.Config{PollInterval: 200 * time.Millisecond, MaxAttempts: 3},
	}, orchestrator.WithLogger(testLogger(t, slog.LevelWarn).With("component", "orchestrator")))
	if err != nil {
		t.Fatal(err)
	}
	w.o = o.Orchestrator
	o.Start()
	t.Cleanup(func() {
		if err := o.Stop(time.Minute); err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("orchestrator: %v", err)
		}
	})
	sw.Serve(o.Web.Handler())
	w.waitFor("orchestrator ready", w.o.Ready)
	return w
}

// addAgent starts a real agent over in-memory tart holding the given
// releases' images; prep runs before its first check.
func (w *world) addAgent(host, queue string, have []string, prep func(*hostAgent)) *hostAgent {
	w.t.Helper()
	dir := w.t.TempDir()
	fake := tarttest.NewFake("")
	for _, r := range have {
		fake.Add(events.VM{Name: images.ImageName(r), DiskGB: 80, SizeGB: 42})
	}
	a, err := agentd.New(agentd.Config{
		Hostname: host, Images: images, TartHome: filepath.Join(dir, "tart"), StateDir: filepath.Join(dir, "state"),
		Interval: time.Hour, TartTimeout: 5 * time.Second,
	}, fake, agentd.WithConn(bustest.Conn(w.t, w.ns)), agentd.WithLogger(testLogger(w.t, slog.LevelError)),
		agentd.WithTagApplier(w.tagLever(dir, queue)), agentd.WithDisk(roomForOne))
	if err != nil {
		w.t.Fatal(err)
	}
	ha := &hostAgent{a: a, tart: fake}
	if prep != nil {
		prep(ha)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	w.t.Cleanup(func() { cancel(); <-done })
	w.agents[host] = ha
	return ha
}

// roomForOne is every host's disk: room for one more 42 GB image, not two,
// whatever the free space of the machine running the test.
func roomForOne(path string) *events.Disk {
	const gib = 1 << 30
	return &events.Disk{Path: path, FreeBytes: 60 * gib, TotalBytes: 500 * gib}
}

// tagLever is the command lever with a no-op restart: the agent computes
// and reports its Buildkite tags (queue included) as on a real host.
func (w *world) tagLever(dir, queue string) agentd.TagApplier {
	w.t.Helper()
	c, err := bkagent.NewCommander(filepath.Join(dir, "tags"), []string{"true"}, bkagent.TagOptions{Operator: []string{"queue=" + queue}})
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

// publish sends one event as its producer would.
func (w *world) publish(subject, typ, source, subjAttr string, data any) {
	w.t.Helper()
	b, err := events.Encode(typ, source, subjAttr, "", time.Now(), data)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := w.nc.Publish(subject, b); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) waitFor(what string, cond func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			w.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (w *world) hostState(host string) string {
	v, ok := w.o.Host(host)
	if !ok {
		return ""
	}
	return fmt.Sprint(v.State)
}

// publishStaleHost publishes one report of a host that then goes silent: with
// a one-second heartbeat it is stale three seconds later.
func (w *world) publishStaleHost(host string) {
	w.t.Helper()
	h := events.HostHealth{Host: host, Agent: "vmfleet-agent", BootID: "boot-1", Seq: 1, CheckedAt: time.Now().UTC(),
		HeartbeatSeconds: 1, TartVersion: "2.35.0"}
	for _, r := range images.Releases {
		h.Releases = append(h.Releases, events.ReleaseStatus{Release: r, ExpectedImage: images.ImageName(r), Ready: true,
			Reason: events.ReasonReady, Bun: images.BunVersion, Bootstrap: images.BootstrapVersion})
	}
	h.Ready = true
	w.publish(w.subj.Health(host), events.TypeHostHealth, "/vmfleet/agent/"+host, host, h)
}

// publishPrunes publishes the outcomes an agent reports after a prune.
func (w *world) publishPrunes(host string) {
	w.t.Helper()
	old := images
	old.BootstrapVersion = "3.5"
	for _, o := range []events.PruneOutcome{
		{Host: host, VM: old.ImageName("13"), Result: events.PruneDeleted, Reason: "bootstrap 3.5 is not the spec's 3.6", SizeGB: 41, At: time.Now().UTC()},
		{Host: host, VM: old.ImageName("14"), Result: events.PruneSkipped, Reason: "running", At: time.Now().UTC()},
	} {
		w.publish(w.subj.Prune(host, o.Result), events.TypePrune, "/vmfleet/agent/"+host, o.VM, o)
	}
}
