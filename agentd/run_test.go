package agentd

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/internal/bus/bustest"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

// slowConfig is a config whose timer never fires during a test, so every
// event seen comes from the trigger under test.
func slowConfig(t testing.TB) Config {
	cfg := testConfig(t)
	cfg.Interval = time.Hour
	return cfg
}

func TestRunPublishesHealthEnvelope(t *testing.T) {
	t.Parallel()
	s := bustest.Server(t, "")
	f := tarttest.NewFake("2.35.0")
	f.Add(local(name("14", "1.2.16", "3.6")))
	a := newAgent(t, slowConfig(t), f, WithConn(agentConn(t, s, 50*time.Millisecond)))
	sub := subscribeHealth(t, bustest.Conn(t, s), a.Host())
	runAgent(t, a)
	h, m := sub.next(5*time.Second, "a first event", anyHealth)
	if want := "vmfleet.host." + a.Host() + ".health"; m.Subject != want {
		t.Errorf("Got(subject) = %q, want %q", m.Subject, want)
	}
	env, _ := events.Decode(m.Data)
	if env.Type != events.TypeHostHealth || env.Subject != a.Host() || env.ID != h.MsgID() || env.Source == "" || env.Time.IsZero() {
		t.Errorf("Got(envelope) = type %q subject %q id %q source %q time %v", env.Type, env.Subject, env.ID, env.Source, env.Time)
	}
	if got := m.Header.Get(nats.MsgIdHdr); got != h.MsgID() {
		t.Errorf("Got(Nats-Msg-Id) = %q, want %q", got, h.MsgID())
	}
	if h.Host != a.Host() || h.Seq != 1 || h.TartVersion != "2.35.0" || len(h.Releases) != 2 || len(h.VMs) != 1 {
		t.Errorf("Got(health) = host %q seq %d tart %q releases %d vms %d", h.Host, h.Seq, h.TartVersion, len(h.Releases), len(h.VMs))
	}
}

func TestRunHeartbeat(t *testing.T) {
	t.Parallel()
	s := bustest.Server(t, "")
	cfg := slowConfig(t)
	cfg.Heartbeat = 200 * time.Millisecond
	a := newAgent(t, cfg, tarttest.NewFake(""), WithConn(agentConn(t, s, 50*time.Millisecond)))
	sub := subscribeHealth(t, bustest.Conn(t, s), a.Host())
	runAgent(t, a)
	first, _ := sub.next(5*time.Second, "a first event", anyHealth)
	second, _ := sub.next(5*time.Second, "a heartbeat", func(h events.HostHealth) bool { return h.Seq > first.Seq })
	if !second.CheckedAt.After(first.CheckedAt) && !second.CheckedAt.Equal(first.CheckedAt) {
		t.Errorf("Got(heartbeat checked_at) = %v before %v", second.CheckedAt, first.CheckedAt)
	}
}

func TestRunDetectsNewVMWithinASecond(t *testing.T) {
	t.Parallel()
	s := bustest.Server(t, "")
	cfg := slowConfig(t)
	f := tarttest.NewFake("")
	a := newAgent(t, cfg, f, WithConn(agentConn(t, s, 50*time.Millisecond)))
	sub := subscribeHealth(t, bustest.Conn(t, s), a.Host())
	runAgent(t, a)
	sub.next(5*time.Second, "a first event", anyHealth)
	img := name("14", "1.2.16", "3.6")
	start := time.Now()
	f.Add(local(img))
	// tart creates the VM's directory (and files in it) under $TART_HOME/vms.
	if err := os.MkdirAll(filepath.Join(cfg.TartHome, "vms", img), 0o755); err != nil {
		t.Fatal(err)
	}
	h, _ := sub.next(time.Second, "release 14 ready within 1s", func(h events.HostHealth) bool {
		r, _ := h.Release("14")
		return r.Ready
	})
	t.Logf("new VM reported after %s", time.Since(start))
	if got := f.Calls(tarttest.OpList); got != 2 {
		t.Errorf("Got(tart list calls) = %d, want 2 (start + one for the burst)", got)
	}
	if h.Seq != 2 {
		t.Errorf("Got(seq) = %d, want 2", h.Seq)
	}
}

func TestRunFollowsSpecInKV(t *testing.T) {
	t.Parallel()
	s := bustest.Server(t, "")
	f := tarttest.NewFake("")
	f.Add(local(name("15", "1.3.0", "4.0")))
	a := newAgent(t, slowConfig(t), f, WithConn(agentConn(t, s, 50*time.Millisecond)), WithSpecRetry(20*time.Millisecond))
	nc := bustest.Conn(t, s)
	sub := subscribeHealth(t, nc, a.Host())
	runAgent(t, a)
	// No bucket yet: the agent checks against its local spec.
	h, _ := sub.next(5*time.Second, "a first event", anyHealth)
	if h.SpecRevision != 0 || h.Releases[1].ExpectedImage != name("14", "1.2.16", "3.6") {
		t.Fatalf("Got(first check) = rev %d, %v, want the local spec", h.SpecRevision, h.Releases)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	b, err := bus.EnsureBuckets(ctx, js, 1, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	spec := events.Spec{Images: events.ImageSpec{Releases: []string{"15"}, BunVersion: "1.3.0", BootstrapVersion: "4.0"}, UpdatedAt: time.Now()}
	rev, err := b.Spec.Put(ctx, events.SpecKey, mustJSON(t, spec))
	if err != nil {
		t.Fatal(err)
	}
	h, _ = sub.next(5*time.Second, "a check against the KV spec", func(h events.HostHealth) bool { return h.SpecRevision == rev })
	if len(h.Releases) != 1 || h.Releases[0].ExpectedImage != name("15", "1.3.0", "4.0") || !h.Ready {
		t.Errorf("Got(releases) = %+v, want release 15 ready with the KV spec's image", h.Releases)
	}
	// The spec as a CloudEvent works too; an invalid one is ignored.
	if _, err := b.Spec.Put(ctx, events.SpecKey, []byte(`{"images":{"releases":[""]}}`)); err != nil {
		t.Fatal(err)
	}
	env, _ := events.Encode(events.TypeSpec, "/test", "", "", time.Now(), events.Spec{Images: events.ImageSpec{Releases: []string{"16"}, BunVersion: "1.3.0", BootstrapVersion: "4.0"}})
	rev3, err := b.Spec.Put(ctx, events.SpecKey, env)
	if err != nil {
		t.Fatal(err)
	}
	h, _ = sub.next(5*time.Second, "the CloudEvent spec", func(h events.HostHealth) bool { return h.SpecRevision == rev3 })
	if h.Releases[0].Release != "16" || h.Ready {
		t.Errorf("Got(releases) = %+v, want release 16 not ready", h.Releases)
	}
	// Deleting the spec falls back to the local config.
	if err := b.Spec.Delete(ctx, events.SpecKey); err != nil {
		t.Fatal(err)
	}
	sub.next(5*time.Second, "the local spec again", func(h events.HostHealth) bool { return h.SpecRevision == 0 && len(h.Releases) == 2 })
}

func TestRunRepublishesAfterServerRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := bustest.Server(t, dir)
	// The agent reconnects slowly, so the fresh subscriber below is there first.
	a := newAgent(t, slowConfig(t), tarttest.NewFake(""), WithConn(agentConn(t, s, 700*time.Millisecond)))
	sub := subscribeHealth(t, bustest.Conn(t, s), a.Host())
	runAgent(t, a)
	first, _ := sub.next(5*time.Second, "a first event", anyHealth)
	s2 := bustest.Restart(t, s, dir)
	sub2 := subscribeHealth(t, bustest.Conn(t, s2), a.Host())
	h, m := sub2.next(10*time.Second, "the republished event", anyHealth)
	if h.Seq != first.Seq || h.BootID != first.BootID || m.Header.Get(nats.MsgIdHdr) != first.MsgID() {
		t.Errorf("Got(republished) = seq %d boot %q, want the latest state again (seq %d boot %q)", h.Seq, h.BootID, first.Seq, first.BootID)
	}
}

func TestRunKeepsCheckingWithoutNATS(t *testing.T) {
	t.Parallel()
	// A server that is down from the start: the agent still runs its checks.
	s := bustest.Server(t, "")
	nc := agentConn(t, s, 50*time.Millisecond)
	s.Shutdown()
	s.WaitForShutdown()
	f := tarttest.NewFake("")
	cfg := slowConfig(t)
	a := newAgent(t, cfg, f, WithConn(nc))
	runAgent(t, a)
	eventually(t, 5*time.Second, "a first check", func() bool { _, ok := a.Latest(); return ok })
	f.Add(local(name("14", "1.2.16", "3.6")))
	if err := os.MkdirAll(filepath.Join(cfg.TartHome, "vms", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "a check after the change", func() bool {
		h, _ := a.Latest()
		r, _ := h.Release("14")
		return r.Ready
	})
}

func TestRunStopsOnCancel(t *testing.T) {
	t.Parallel()
	a := newAgent(t, slowConfig(t), tarttest.NewFake(""))
	stop := runAgent(t, a)
	eventually(t, 5*time.Second, "a first check", func() bool { _, ok := a.Latest(); return ok })
	stop() // fails the test if Run does not return nil promptly
}

func TestSyncSpec(t *testing.T) {
	t.Parallel()
	s := bustest.Server(t, "")
	a := newAgent(t, slowConfig(t), tarttest.NewFake(""), WithConn(agentConn(t, s, 50*time.Millisecond)))
	ctx := context.Background()
	if ok, err := a.SyncSpec(ctx); ok || err != nil {
		t.Fatalf("Got(SyncSpec without a bucket) = %v, %v, want false, nil", ok, err)
	}
	js, _ := jetstream.New(bustest.Conn(t, s))
	b, err := bus.EnsureBuckets(ctx, js, 1, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := a.SyncSpec(ctx); ok || err != nil {
		t.Fatalf("Got(SyncSpec without a key) = %v, %v, want false, nil", ok, err)
	}
	if _, err := b.Spec.Put(ctx, events.SpecKey, mustJSON(t, events.Spec{Images: events.ImageSpec{Releases: []string{"15"}, BunVersion: "1.3.0", BootstrapVersion: "4.0"}})); err != nil {
		t.Fatal(err)
	}
	if ok, err := a.SyncSpec(ctx); !ok || err != nil {
		t.Fatalf("Got(SyncSpec) = %v, %v, want true, nil", ok, err)
	}
	if h := mustCheck(t, a); h.Releases[0].ExpectedImage != name("15", "1.3.0", "4.0") || h.SpecRevision == 0 {
		t.Errorf("Got(check after SyncSpec) = %+v rev %d", h.Releases, h.SpecRevision)
	}
}

func TestRunDoesNotSpinWhenPublishFails(t *testing.T) {
	t.Parallel()
	s := bustest.Server(t, "")
	nc := agentConn(t, s, 50*time.Millisecond)
	cfg := slowConfig(t)
	cfg.Heartbeat = 100 * time.Millisecond
	f := tarttest.NewFake("")
	past := &fakeClock{t: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)} // a clock far behind real time
	a := newAgent(t, cfg, f, WithConn(nc), WithClock(past.Now))
	stop := runAgent(t, a)
	eventually(t, 5*time.Second, "a first publish", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.lastPub != nil
	})
	nc.Close() // from now on every publish fails with ErrConnectionClosed
	start, before := time.Now(), f.Calls(tarttest.OpList)
	eventually(t, 5*time.Second, "three heartbeat attempts", func() bool { return f.Calls(tarttest.OpList) >= before+3 })
	stop()
	elapsed := time.Since(start)
	if calls, limit := f.Calls(tarttest.OpList)-before, int(elapsed/cfg.Heartbeat)+2; calls > limit {
		t.Errorf("Got(tart list calls) = %d in %s, want at most %d (one per heartbeat)", calls, elapsed, limit)
	}
}
