package agentd

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/tart"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

// verdict is what a test asserts of one release.
type verdict struct {
	Release string
	Ready   bool
	Reason  events.Reason
}

func verdicts(h events.HostHealth) []verdict {
	out := make([]verdict, len(h.Releases))
	for i, r := range h.Releases {
		out[i] = verdict{r.Release, r.Ready, r.Reason}
	}
	return out
}

func local(n string) events.VM { return events.VM{Name: n, Source: "local", State: events.VMStopped} }
func oci(n string) events.VM   { return events.VM{Name: n, Source: "oci", State: events.VMStopped} }

func TestCheckReasons(t *testing.T) {
	t.Parallel()
	want13, want14 := name("13", "1.2.16", "3.6"), name("14", "1.2.16", "3.6")
	missing13 := verdict{"13", false, events.ReasonImageMissing}
	tests := []struct {
		name   string
		vms    []events.VM
		want14 verdict
		detail string // in release 14's Detail
	}{
		{name: "empty host", want14: verdict{"14", false, events.ReasonImageMissing}},
		{name: "exact image", vms: []events.VM{local(want14)}, want14: verdict{"14", true, events.ReasonReady}},
		{name: "running image is ready", vms: []events.VM{{Name: want14, Source: "local", State: events.VMRunning}}, want14: verdict{"14", true, events.ReasonReady}},
		{name: "source printed in capitals", vms: []events.VM{{Name: want14, Source: "Local"}}, want14: verdict{"14", true, events.ReasonReady}},
		{name: "lookalike bootstrap 3.60", vms: []events.VM{local(name("14", "1.2.16", "3.60"))},
			want14: verdict{"14", false, events.ReasonBootstrapMismatch}, detail: "bootstrap 3.60, want bootstrap 3.6"},
		{name: "regex-dot lookalike bun", vms: []events.VM{local(name("14", "1x2x16", "3.6"))},
			want14: verdict{"14", false, events.ReasonImageMissing}, detail: "another bun version"},
		{name: "prefixed lookalike", vms: []events.VM{local("x" + want14 + "x")},
			want14: verdict{"14", false, events.ReasonImageMissing}, detail: "temporary name"},
		{name: "older bootstrap", vms: []events.VM{local(name("14", "1.2.16", "3.5"))},
			want14: verdict{"14", false, events.ReasonBootstrapMismatch}, detail: name("14", "1.2.16", "3.5")},
		{name: "other bun and bootstrap is missing, not mismatch", vms: []events.VM{local(name("14", "1.2.15", "3.5"))},
			want14: verdict{"14", false, events.ReasonImageMissing}},
		{name: "other bun same bootstrap", vms: []events.VM{local(name("14", "1.2.15", "3.6"))},
			want14: verdict{"14", false, events.ReasonImageMissing}, detail: name("14", "1.2.15", "3.6")},
		{name: "other release's mismatch does not count", vms: []events.VM{local(name("15", "1.2.16", "3.5"))},
			want14: verdict{"14", false, events.ReasonImageMissing}},
		{name: "OCI duplicates of the expected name", vms: []events.VM{oci(want14), oci(want14 + "@sha256:abc")},
			want14: verdict{"14", false, events.ReasonImageMissing}, detail: "OCI cache"},
		{name: "temporary build name", vms: []events.VM{local(want14 + "-tmp-8f3a")},
			want14: verdict{"14", false, events.ReasonImageMissing}, detail: "temporary name"},
		{name: "temporary and OCI entries beside the image", vms: []events.VM{local(want14 + "-tmp-8f3a"), oci("ghcr.io/acme/" + want14 + "@sha256:abc"), local(want14)},
			want14: verdict{"14", true, events.ReasonReady}},
		{name: "foreign VMs", vms: []events.VM{local("macos-sonoma-xcode"), local("ubuntu")},
			want14: verdict{"14", false, events.ReasonImageMissing}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := tarttest.NewFake("")
			f.Add(tt.vms...)
			f.Add(local(want13 + "-tmp")) // release 13 is never ready here
			a := newAgent(t, testConfig(t), f)
			h := mustCheck(t, a)
			if diff := cmp.Diff([]verdict{missing13, tt.want14}, verdicts(h)); diff != "" {
				t.Errorf("releases (-want +got):\n%s", diff)
			}
			if got := h.Releases[1].Detail; !strings.Contains(got, tt.detail) {
				t.Errorf("Got(detail) = %q, want it to contain %q", got, tt.detail)
			}
			if h.Ready {
				t.Errorf("Got(ready) = true, want false (release 13 is missing)")
			}
			if got, want := len(h.VMs), len(tt.vms)+1; got != want && !strings.Contains(tt.name, "capitals") {
				t.Errorf("Got(len(vms)) = %d, want %d", got, want)
			}
			if err := h.Validate(); err != nil {
				t.Errorf("health does not validate: %v", err)
			}
		})
	}
}

func TestCheckTartFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		inject func(f *tarttest.Fake)
		detail string
		is     error
	}{
		{name: "not installed", inject: func(f *tarttest.Fake) {
			f.FailNext(tarttest.OpList, &tart.Error{Args: []string{"list"}, Kind: tart.ErrNotInstalled})
		}, detail: "tart not found", is: tart.ErrNotInstalled},
		{name: "exit 1", inject: func(f *tarttest.Fake) {
			f.FailNext(tarttest.OpList, &tart.Error{Args: []string{"list", "--format", "json"}, ExitCode: 1, Stderr: "Error: permission denied"})
		}, detail: "permission denied"},
		{name: "garbage", inject: func(f *tarttest.Fake) {
			f.FailNext(tarttest.OpList, &tart.Error{Args: []string{"list"}, Kind: tart.ErrBadOutput, Err: errors.New("invalid character 'x'")})
		}, detail: "unparseable", is: tart.ErrBadOutput},
		{name: "hangs past the timeout", inject: func(f *tarttest.Fake) { f.SetDelay(tarttest.OpList, time.Minute) }, detail: "timed out", is: tart.ErrTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := tarttest.NewFake("")
			f.Add(local(name("14", "1.2.16", "3.6")))
			tt.inject(f)
			cfg := testConfig(t)
			cfg.TartTimeout = 100 * time.Millisecond
			a := newAgent(t, cfg, f)
			h := mustCheck(t, a)
			for _, r := range h.Releases {
				if r.Ready || r.Reason != events.ReasonTartError || !strings.Contains(r.Detail, tt.detail) {
					t.Errorf("Got(release %s) = ready %v, %s %q, want not ready, tart_error mentioning %q", r.Release, r.Ready, r.Reason, r.Detail, tt.detail)
				}
			}
			if !strings.Contains(h.TartError, tt.detail) {
				t.Errorf("Got(TartError) = %q, want it to mention %q", h.TartError, tt.detail)
			}
			// The next check, with tart healthy again, sees the image.
			f.SetDelay(tarttest.OpList, 0)
			if h := mustCheck(t, a); h.Releases[1].Reason != events.ReasonReady || h.TartError != "" {
				t.Errorf("Got(recovered check) = %s, tart error %q, want ready", h.Releases[1].Reason, h.TartError)
			}
		})
	}
}

func TestCheckListsOnce(t *testing.T) {
	t.Parallel()
	f := tarttest.NewFake("2.20.1")
	cfg := testConfig(t)
	cfg.Images.Releases = []string{"11", "12", "13", "14", "15"}
	a := newAgent(t, cfg, f)
	h := mustCheck(t, a)
	if got := f.Calls(tarttest.OpList); got != 1 {
		t.Errorf("Got(tart list calls) = %d, want 1 for %d releases", got, len(h.Releases))
	}
	if h.TartVersion != "2.20.1" {
		t.Errorf("Got(TartVersion) = %q, want 2.20.1", h.TartVersion)
	}
	mustCheck(t, a)
	if got := f.Calls(tarttest.OpVersion); got != 1 {
		t.Errorf("Got(tart --version calls) after 2 checks = %d, want 1 (cached)", got)
	}
	if got := f.Calls(tarttest.OpList); got != 2 {
		t.Errorf("Got(tart list calls) after 2 checks = %d, want 2", got)
	}
}

func TestCheckHealthFields(t *testing.T) {
	t.Parallel()
	f := tarttest.NewFake("")
	f.Add(local(name("14", "1.2.16", "3.6")), local(name("13", "1.2.16", "3.6")))
	clock := &fakeClock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	a := newAgent(t, testConfig(t), f, WithClock(clock.Now), WithBootID("boot1"))
	h := mustCheck(t, a)
	h2 := mustCheck(t, a)
	if h.Host != "mac-01_local-"+h.Host[len(h.Host)-6:] || h.Hostname != "Mac-01.local" || h.Agent != "Mac-01.local" {
		t.Errorf("Got(host, hostname, agent) = %q, %q, %q", h.Host, h.Hostname, h.Agent)
	}
	if !h.Ready || h.Seq != 1 || h2.Seq != 2 || h.BootID != "boot1" || !h.CheckedAt.Equal(clock.Now()) {
		t.Errorf("Got(ready, seq, seq2, boot, checked_at) = %v, %d, %d, %q, %v", h.Ready, h.Seq, h2.Seq, h.BootID, h.CheckedAt)
	}
	if h.Disk == nil || h.Disk.TotalBytes <= 0 || h.Disk.FreeBytes < 0 {
		t.Errorf("Got(disk) = %+v, want the temp dir's filesystem", h.Disk)
	}
	if h.HeartbeatSeconds != 60 {
		t.Errorf("Got(heartbeat_seconds) = %d, want 60", h.HeartbeatSeconds)
	}
	prev, err := a.Previous()
	if err != nil || prev == nil || prev.Seq != 2 {
		t.Errorf("Got(Previous) = %v, %v, want the second check", prev, err)
	}
}

type fakeTags struct{ calls int }

func (f *fakeTags) Apply(_ context.Context, h events.HostHealth) ([]string, error) {
	f.calls++
	if f.calls == 2 {
		return nil, errors.New("buildkite-agent restart failed")
	}
	return []string{"vm-ready=" + map[bool]string{true: "true", false: "false"}[h.Ready]}, nil
}

func TestCheckTagApplier(t *testing.T) {
	t.Parallel()
	tags := &fakeTags{}
	a := newAgent(t, testConfig(t), tarttest.NewFake(""), WithTagApplier(tags))
	for i, want := range [][]string{{"vm-ready=false"}, {"vm-ready=false"}} {
		if got := mustCheck(t, a).BuildkiteTags; !cmp.Equal(got, want) {
			t.Errorf("check %d: Got(BuildkiteTags) = %v, want %v (kept on a failed apply)", i, got, want)
		}
	}
}
