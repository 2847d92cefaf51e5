package bkagent_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/agentd"
	"github.com/vmfleet/vmfleet/agentd/bkagent"
	bk "github.com/vmfleet/vmfleet/agentd/bkagent/bkagenttest"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

// Both levers fill agentd's seam.
var (
	_ agentd.TagApplier = (*bkagent.Supervisor)(nil)
	_ agentd.TagApplier = (*bkagent.Commander)(nil)
)

// TestAgentDrivesSupervisor: the host agent's checks drive the supervised
// buildkite-agent; the image appearing flips vm-ready-macos-14 after the
// running job, and the health reports the tags the agent runs with.
func TestAgentDrivesSupervisor(t *testing.T) {
	t.Parallel()
	st := bk.NewState(t)
	log := slog.New(slog.NewTextHandler(tLog{t}, nil))
	sup, err := bkagent.NewSupervisor([]string{bk.BuildExecutable(t), "start"},
		bkagent.TagOptions{Operator: []string{"queue=darwin"}}, bkagent.WithLogger(log), bkagent.WithEnv(st.Env()...))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	spec := events.ImageSpec{Releases: []string{"14"}, BunVersion: "1.2.16", BootstrapVersion: "3.6"}
	tt := tarttest.NewFake("")
	a, err := agentd.New(agentd.Config{Hostname: "Mac-01.local", Images: spec,
		TartHome: filepath.Join(dir, "tart"), StateDir: filepath.Join(dir, "state")},
		tt, agentd.WithLogger(log), agentd.WithTagApplier(sup))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Supervisor.Run did not return")
		}
	})

	st.Hold()
	h, err := a.Check(ctx)
	if err != nil || !slices.Contains(h.BuildkiteTags, "vm-ready-macos-14=false") || !slices.Contains(h.BuildkiteTags, "vmfleet-host="+a.Host()) {
		t.Fatalf("Got(first check tags) = %v, %v, want vm-ready-macos-14=false and vmfleet-host=%s", h.BuildkiteTags, err, a.Host())
	}
	st.WaitFor("job", 10*time.Second, func(evs []bk.Event) bool { return bk.Has(evs, 1, bk.KindJob) })
	tt.Add(events.VM{Name: spec.ImageName("14"), Source: "local"})
	if h, _ = a.Check(ctx); !slices.Contains(h.BuildkiteTags, "vm-ready-macos-14=false") {
		t.Errorf("Got(tags while the job runs) = %v, want still vm-ready-macos-14=false (what Buildkite sees); fake events %v",
			h.BuildkiteTags, st.Events())
	}
	st.Release()
	st.WaitFor("restart", 10*time.Second, func(evs []bk.Event) bool { return bk.Has(evs, 2, bk.KindJob) })
	deadline := time.Now().Add(10 * time.Second)
	for h, _ = a.Check(ctx); !slices.Contains(h.BuildkiteTags, "vm-ready-macos-14=true"); h, _ = a.Check(ctx) {
		if time.Now().After(deadline) {
			t.Fatalf("Got(tags after the restart) = %v, want vm-ready-macos-14=true", h.BuildkiteTags)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := st.Starts(); len(got) != 2 || !slices.Contains(mustParse(t, got[1].TagsEnv), "vm-ready-macos-14=true") {
		t.Errorf("Got(starts) = %+v, want 2, the second with vm-ready-macos-14=true", got)
	}
}

func mustParse(t *testing.T, s string) []string {
	t.Helper()
	tags, err := bkagent.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return tags
}

type tLog struct{ t *testing.T }

func (w tLog) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }
