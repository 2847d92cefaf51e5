package cleanup

import (
	"fmt"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
)

// benchHost is a host with n VMs: ours of several bun and bootstrap
// versions and releases, OCI cache entries and other people's VMs.
func benchHost(n int) Input {
	spec, pol := testSpec()
	in := Input{Spec: spec, Policy: pol, Window: WindowState{Open: true}, Disk: &events.Disk{FreeBytes: 100 * gb, TotalBytes: 500 * gb}}
	for _, r := range spec.Releases {
		in.VMs = append(in.VMs, local(spec.ImageName(r), events.VMStopped))
		in.Releases = append(in.Releases, status(r, spec.ImageName(r), true, events.ReasonReady))
	}
	for i := len(in.VMs); i < n; i++ {
		name := fmt.Sprintf("bun-build-macos-%d-1.%d.%d-bootstrap-3.%d", 12+i%4, i/20, i%20, i%7)
		vm := local(name, []string{events.VMStopped, events.VMRunning}[i%5/4])
		switch i % 10 {
		case 7:
			vm.Source = "oci"
		case 8:
			vm.Name = fmt.Sprintf("someone-elses-vm-%d", i)
		}
		in.VMs = append(in.VMs, vm)
	}
	return in
}

func BenchmarkPlan(b *testing.B) {
	in := benchHost(500)
	res := Plan(in)
	b.Logf("500 VMs: %d to prune, %d kept", len(res.Prune), len(res.Keep))
	b.ReportAllocs()
	for b.Loop() {
		Plan(in)
	}
}

func BenchmarkWindowsState(b *testing.B) {
	for _, bm := range []struct {
		name string
		ws   []events.Window
	}{
		{"nightly", []events.Window{win("CRON_TZ=Europe/Berlin 0 2 * * *", 4*time.Hour), win("CRON_TZ=America/New_York 0 1 * * 6", 6*time.Hour)}},
		{"always open", []events.Window{win("*/5 * * * *", 6*time.Hour)}},
		// The simulation's window: every minute for a minute, so State
		// follows 64 chained openings.
		{"chained", []events.Window{win("* * * * *", time.Minute)}},
	} {
		b.Run(bm.name, func(b *testing.B) {
			w := mustWindows(b, bm.ws...)
			now := utc("2025-06-10T12:00:00Z")
			b.ReportAllocs()
			for b.Loop() {
				w.State(now)
				now = now.Add(time.Minute)
			}
		})
	}
}
