package agentd

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

// entries lists dir ("" for a directory that does not exist).
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func TestMemoryStateKeepsForcedAndLastInMemory(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	f := tarttest.NewFake("")
	f.Add(local(name("13", "1.2.16", "3.6")), local(name("14", "1.2.16", "3.6")))
	clock := &fakeClock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	a := newAgent(t, cfg, f, WithMemoryState(), WithClock(clock.Now))

	mustCheck(t, a)
	if _, err := a.SetForced(events.ForceRequest{State: events.ForcedNotReady, TTL: events.Duration(time.Hour), By: "test"}); err != nil {
		t.Fatalf("SetForced: %v", err)
	}
	h := mustCheck(t, a)
	if h.Ready || h.Forced == nil || h.Forced.State != events.ForcedNotReady {
		t.Errorf("Got(ready, forced) = %v, %+v, want not ready, forced not_ready", h.Ready, h.Forced)
	}
	prev, err := a.Previous()
	if err != nil || prev == nil || prev.Seq != h.Seq {
		t.Errorf("Got(Previous) = %v, %v, want seq %d", prev, err, h.Seq)
	}
	clock.Add(2 * time.Hour)
	if h := mustCheck(t, a); !h.Ready || h.Forced != nil {
		t.Errorf("Got(ready, forced) after the TTL = %v, %+v, want ready, none", h.Ready, h.Forced)
	}
	if got, err := a.Forced(); got != nil || err != nil {
		t.Errorf("Got(Forced) after the TTL = %+v, %v, want nil", got, err)
	}
	if got := entries(t, cfg.StateDir); len(got) != 0 {
		t.Errorf("Got(state dir) = %v, want nothing written", got)
	}
}

func TestMemoryStateAgentsDoNotShare(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	a := newAgent(t, cfg, tarttest.NewFake(""), WithMemoryState())
	b := newAgent(t, cfg, tarttest.NewFake(""), WithMemoryState())
	if _, err := a.SetForced(events.ForceRequest{State: events.ForcedReady}); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, a)
	if got, _ := b.Forced(); got != nil {
		t.Errorf("Got(b.Forced) = %+v, want nil: memory state is per agent", got)
	}
	if got, _ := b.Previous(); got != nil {
		t.Errorf("Got(b.Previous) = %+v, want nil", got)
	}
}

func TestPreviousIsACopy(t *testing.T) {
	t.Parallel()
	a := newAgent(t, testConfig(t), tarttest.NewFake(""), WithMemoryState())
	mustCheck(t, a)
	p, _ := a.Previous()
	p.Seq = 99
	if q, _ := a.Previous(); q.Seq != 1 {
		t.Errorf("Got(Previous().Seq) after a caller changed its copy = %d, want 1", q.Seq)
	}
}

func TestWithoutFileWatch(t *testing.T) {
	t.Parallel()
	cfg := slowConfig(t)
	f := tarttest.NewFake("")
	a, nc, sub := running(t, cfg, f, WithoutFileWatch(), WithMemoryState())
	img := name("14", "1.2.16", "3.6")
	f.Add(local(img))
	// No watcher: the agent made no directory to watch, and it learns of
	// the change through Trigger (as fleetsim's in-memory tart tells it).
	if got := entries(t, filepath.Join(cfg.TartHome, "vms")); got != nil {
		t.Errorf("Got(%s) = %v, want no directory made", filepath.Join(cfg.TartHome, "vms"), got)
	}
	a.Trigger()
	h, _ := sub.next(5*time.Second, "the new VM after Trigger", func(h events.HostHealth) bool {
		st, _ := h.Release("14")
		return st.Ready
	})
	if got := entries(t, cfg.StateDir); got != nil {
		t.Errorf("Got(state dir) = %v, want none", got)
	}
	// A pull checks and publishes at once, without any watch.
	r := request(t, nc, cmdSubject(a, events.VerbPull), command(t, events.VerbPull, events.PullRequest{Source: "ghcr.io/acme/img:13", Name: name("13", "1.2.16", "3.6")}))
	if !r.OK || r.Health == nil || !r.Health.Ready || r.Health.Seq <= h.Seq {
		t.Errorf("Got(pull reply) = ok %v health %+v, want ok and a new ready check", r.OK, r.Health)
	}
	after, _ := sub.next(5*time.Second, "the check after the pull", func(x events.HostHealth) bool { return x.Ready })
	if diff := cmp.Diff(r.Health.Seq, after.Seq); diff != "" {
		t.Errorf("Got(published seq) differs from the reply's (-reply +published):\n%s", diff)
	}
}
