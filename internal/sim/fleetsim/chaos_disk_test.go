package fleetsim

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/agentd"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
)

// diskCase is one host of a chaos fleet after a bump: its agent holds the
// old images, the new ones are not there (their replacement is not ready),
// the cleanup window is open and the removal grace over. Only a disk
// emergency lets it delete the old images.
type diskCase struct {
	s     *Sim
	h     *simHost
	spec  events.Spec // the bumped spec, in force in the world and in KV
	old   []string    // the old images, on the host
	agent *agentd.Agent
}

func newDiskCase(t *testing.T, withAgent bool) *diskCase {
	t.Helper()
	cfg := chaosFleet(1, 1)
	s, err := New(cfg, WithComponentLogger(testLogger(t)), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	s.start = time.Now()
	initial, _ := s.world.current()
	spec, _, _ := s.bumped(initial)
	s.world.set(spec, time.Now().Add(-time.Second)) // the grace (1 ms) is over
	dc := &diskCase{s: s, h: s.hosts[0], spec: spec, old: currentImages(initial)}
	for _, img := range dc.old {
		if !dc.h.fake.Has(img) {
			t.Fatalf("Got(host without %s), want the initial images", img)
		}
	}
	if !withAgent {
		return dc
	}
	ns, err := bus.StartServer(bus.ServerConfig{Listen: "127.0.0.1:-1", DataDir: t.TempDir()}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	bk, err := bus.EnsureBuckets(t.Context(), js, 1, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	data, err := events.Encode(events.TypeSpec, "/vmfleet/test", events.SpecKey, "", time.Now(), spec)
	if err != nil {
		t.Fatal(err)
	}
	rev, err := bk.Spec.Put(t.Context(), events.SpecKey, data)
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	a, err := agentd.New(agentd.Config{
		Hostname: dc.h.name, Images: cfg.spec(), TartHome: filepath.Join(home, "tart"), StateDir: filepath.Join(home, "state"),
		Interval: time.Hour, Heartbeat: time.Hour, TartTimeout: 10 * time.Second,
	}, dc.h.tart, append([]agentd.Option{agentd.WithConn(nc), agentd.WithMemoryState(), agentd.WithoutFileWatch(),
		agentd.WithSpecRetry(100 * time.Millisecond), agentd.WithDisk(dc.h.disk)}, s.chaos.agentOptions(dc.h)...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	if err := waitFor(t.Context(), func() bool { _, r := a.Spec(); return r == rev }); err != nil {
		t.Fatal(err)
	}
	dc.agent = a
	return dc
}

// fill puts the host's disk under the emergency threshold (or frees it).
func (dc *diskCase) fill(emergency bool) {
	dc.h.chaos.fill.Store(0)
	if emergency {
		dc.h.chaos.fill.Store(dc.h.disk("").FreeBytes - chaosDiskReserve/2)
	}
}

func (dc *diskCase) violations() []Violation {
	vs, _, _ := dc.s.ledger.snapshot()
	return vs
}

// A prune the agent plans in a disk emergency deletes the old images
// before their replacement is there, and every one of its deletes is legal,
// also those that come once the first delete has ended the emergency.
// Without the emergency the agent deletes nothing. Judged by the disk at
// the moment of the delete, the second delete would be a violation; judged
// without the planned disk, both would.
func TestChaosDeleteJudgedByPlannedDisk(t *testing.T) {
	dc := newDiskCase(t, true)
	req := events.PruneRequest{VMs: dc.old, Reason: events.PruneReasonEmergency, DiskEmergency: true}

	out, _, err := dc.agent.Prune(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out {
		if o.Result == events.PruneDeleted {
			t.Fatalf("Got(prune without an emergency) deleted %s, want every old image kept (replacement not ready)", o.VM)
		}
	}

	dc.fill(true)
	// The first delete frees the disk: the emergency is over before the
	// second delete.
	dc.h.fake.OnChange = func() { dc.fill(false); dc.h.trigger() }
	out, _, err = dc.agent.Prune(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	var deleted []string
	for _, o := range out {
		if o.Result == events.PruneDeleted {
			deleted = append(deleted, o.VM)
		}
	}
	if !slices.Equal(deleted, dc.old) {
		t.Fatalf("Got(prune in a disk emergency) deleted %v (outcomes %+v), want %v", deleted, out, dc.old)
	}
	if free := dc.h.disk("").FreeBytes; free < chaosDiskReserve {
		t.Fatalf("Got(%d bytes free after the emergency), want the emergency over", free)
	}
	if vs := dc.violations(); len(vs) != 0 {
		t.Errorf("Got(violations) = %+v, want none: every delete was legal for the disk the agent planned against", vs)
	}
}

// The checker judges a delete by the disk of the host's latest prune plan,
// not by the disk at the moment of the delete: a delete planned without an
// emergency that the rules allow only in one is a violation, even when the
// disk is full when it comes; one planned in an emergency is legal, even
// when the disk has been freed since.
func TestChaosDeleteRuleIsThePlannedDisk(t *testing.T) {
	for _, tc := range []struct {
		name                string
		planned, now        bool // emergency when planned, at the delete
		noPlan, wantViolate bool
	}{
		{name: "planned in an emergency, disk freed since", planned: true, now: false},
		{name: "planned in an emergency, disk still full", planned: true, now: true},
		{name: "planned without, disk full now", planned: false, now: true, wantViolate: true},
		{name: "planned without, disk free", planned: false, now: false, wantViolate: true},
		{name: "never planned, disk full now", noPlan: true, now: true, wantViolate: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dc := newDiskCase(t, false)
			if !tc.noPlan {
				dc.fill(tc.planned)
				dc.s.chaos.plans.record(dc.h.token, dc.h.disk(""))
			}
			dc.fill(tc.now)
			if err := dc.h.tart.Delete(t.Context(), dc.old[0]); err != nil {
				t.Fatal(err)
			}
			vs := dc.violations()
			emergency, disk := dc.s.chaos.emergencyPlanned(dc.h.token)
			got := slices.ContainsFunc(vs, func(v Violation) bool { return v.Kind == VDeletedBeforeReplacement })
			if got != tc.wantViolate || (!tc.wantViolate && len(vs) != 0) {
				t.Errorf("Got(violations) = %+v (emergency %t: %s), want a %s violation: %t", vs, emergency, disk, VDeletedBeforeReplacement, tc.wantViolate)
			}
		})
	}
}
