package agentd

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/tart"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

func TestForcedStates(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		req     events.ForceRequest
		after   time.Duration // clock advance before the check
		image   bool          // the expected image exists
		tartErr bool
		want    events.Reason
		ready   bool
		forced  bool // HostHealth.Forced set
	}{
		{name: "ready without image", req: events.ForceRequest{State: events.ForcedReady}, want: events.ReasonForcedReady, ready: true, forced: true},
		{name: "not ready with image", req: events.ForceRequest{State: events.ForcedNotReady}, image: true, want: events.ReasonForcedNotReady, forced: true},
		{name: "within ttl", req: events.ForceRequest{State: events.ForcedReady, TTL: events.Duration(time.Hour)}, after: 59 * time.Minute, want: events.ReasonForcedReady, ready: true, forced: true},
		{name: "ttl expired", req: events.ForceRequest{State: events.ForcedReady, TTL: events.Duration(time.Hour)}, after: time.Hour, want: events.ReasonImageMissing},
		{name: "forced over a tart failure", req: events.ForceRequest{State: events.ForcedReady}, tartErr: true, want: events.ReasonForcedReady, ready: true, forced: true},
		{name: "cleared", req: events.ForceRequest{Clear: true}, image: true, want: events.ReasonReady, ready: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := &fakeClock{t: t0}
			f := tarttest.NewFake("")
			if tt.image {
				f.Add(local(name("13", "1.2.16", "3.6")), local(name("14", "1.2.16", "3.6")))
			}
			cfg := testConfig(t)
			a := newAgent(t, cfg, f, WithClock(clock.Now))
			if _, err := a.SetForced(events.ForceRequest{State: events.ForcedNotReady}); err != nil {
				t.Fatal(err)
			}
			if _, err := a.SetForced(tt.req); err != nil {
				t.Fatalf("SetForced(%+v): %v", tt.req, err)
			}
			clock.Add(tt.after)
			if tt.tartErr {
				f.FailNext(tarttest.OpList, &tart.Error{Args: []string{"list"}, Kind: tart.ErrTimeout})
			}
			// A new agent on the same state dir: the forced state survives a restart.
			b := newAgent(t, cfg, f, WithClock(clock.Now))
			h := mustCheck(t, b)
			for _, r := range h.Releases {
				if r.Reason != tt.want || r.Ready != tt.ready {
					t.Errorf("Got(release %s) = %s ready=%v, want %s ready=%v (detail %q)", r.Release, r.Reason, r.Ready, tt.want, tt.ready, r.Detail)
				}
			}
			if (h.Forced != nil) != tt.forced || h.Ready != tt.ready {
				t.Errorf("Got(forced, ready) = %+v, %v, want forced=%v ready=%v", h.Forced, h.Ready, tt.forced, tt.ready)
			}
			if tt.tartErr && h.TartError == "" {
				t.Errorf("Got(TartError) = \"\", want the cause even when forced")
			}
			_, err := os.Stat(filepath.Join(cfg.StateDir, forcedFile))
			if exists := err == nil; exists != tt.forced {
				t.Errorf("Got(forced file exists) = %v, want %v", exists, tt.forced)
			}
		})
	}
}

func TestForcedFileIsPrivateAndAtomic(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	a := newAgent(t, cfg, tarttest.NewFake(""))
	if _, err := a.SetForced(events.ForceRequest{State: events.ForcedReady, TTL: events.Duration(time.Hour), By: "ops"}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(cfg.StateDir, forcedFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("Got(mode) = %v, want 0600", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(cfg.StateDir)
	for _, e := range entries {
		if e.Name() != forcedFile {
			t.Errorf("stray file %s left in the state dir", e.Name())
		}
	}
	f, err := a.Forced()
	if err != nil || f == nil || f.SetBy != "ops" || f.Until.IsZero() {
		t.Errorf("Got(Forced) = %+v, %v, want ready by ops with a TTL", f, err)
	}
}

func TestForcedBadRequestAndCorruptFile(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	a := newAgent(t, cfg, tarttest.NewFake(""))
	if _, err := a.SetForced(events.ForceRequest{State: "maybe"}); !errors.Is(err, events.ErrInvalid) {
		t.Errorf("Got(SetForced(maybe)) = %v, want ErrInvalid", err)
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.StateDir, forcedFile), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Forced(); !errors.Is(err, ErrStateFile) {
		t.Errorf("Got(Forced with a corrupt file) = %v, want ErrStateFile", err)
	}
	if h := mustCheck(t, a); h.Forced != nil || h.Releases[0].Reason != events.ReasonImageMissing {
		t.Errorf("Got(check with a corrupt forced file) = %+v, %s, want it ignored", h.Forced, h.Releases[0].Reason)
	}
}
