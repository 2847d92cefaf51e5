package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/api"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
)

// TestStatusHostQueuedThroughCLI: with builds.max_concurrent 1 and two
// hosts missing their image (host mode: a build each), one builds and
// the other waits; `vmfleet status` says queued (not image_missing) and
// why, `vmfleet status HOST` shows the build in flight with its link on
// one host and the queue place on the other, with VMs, disk and the prune
// plan, and --json is GET /api/v1/hosts/HOST with the same cells.
func TestStatusHostQueuedThroughCLI(t *testing.T) {
	n := startNATS(t)
	w := newWorld(t, []string{n.url()})
	o := w.startOrch("a", "--max-builds", "1")
	waitFor(t, "a leads", 20*time.Second, o.leads)
	first := w.startAgent("mac-01")
	first.state.Add(events.VM{Name: "old-vm", SizeGB: 12, DiskGB: 50})
	waitFor(t, "mac-01's build", 20*time.Second, func() bool { return o.builds()[hostKey(first.host)].Number > 0 })
	second := w.startAgent("mac-02")

	cellOf := func(host string) (api.Cell, bool) {
		d, ok := o.host(host)
		if !ok || len(d.Cells) != 1 {
			return api.Cell{}, false
		}
		return d.Cells[0], true
	}
	waitFor(t, "mac-02 queued", 20*time.Second, func() bool {
		c, ok := cellOf(second.host)
		return ok && c.State == api.CellQueued
	})
	c, _ := cellOf(second.host)
	if c.Wait == nil || c.Wait.Kind != api.WaitQueued || c.Wait.Cap != builds.CapMaxConcurrent || c.Wait.Position != 1 || c.Wait.Of != 1 ||
		c.Wait.Limit != 1 || c.Wait.Key != hostKey(second.host) {
		t.Fatalf("Got(mac-02's wait) = %+v, want queued behind builds.max_concurrent (1), 1 of 1, for its build", c.Wait)
	}

	out, stderr, code := o.cli("status")
	if code != 0 || !strings.Contains(out, "queued") || !strings.Contains(out, "14: image_missing (build queued 1/1 behind builds.max_concurrent)") ||
		!strings.Contains(out, "building") {
		t.Errorf("Got(vmfleet status) = exit %d, %q, %q; want mac-01 building, mac-02 queued with why", code, out, stderr)
	}

	out, stderr, code = o.cli("status", "mac-02")
	if code != 0 || !strings.Contains(out, "build queued behind builds.max_concurrent (1 live): 1 of 1 waiting, since ") ||
		!strings.Contains(out, image14()) {
		t.Errorf("Got(vmfleet status mac-02) = exit %d, %q, %q; want the queue place and the expected image", code, out, stderr)
	}
	rec := o.builds()[hostKey(first.host)]
	out, stderr, code = o.cli("status", "mac-01")
	for _, want := range []string{"mac-01  not_ready", "building", "build #", rec.URL, "old-vm", "12 GB", "50 GB", "prune plan: ", "last prune: "} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("Got(vmfleet status mac-01) = exit %d, %q, %q; want it to contain %q", code, out, stderr, want)
		}
	}

	out, _, code = o.cli("status", "mac-02", "--json")
	var d api.HostDetail
	if err := json.Unmarshal([]byte(out), &d); code != 0 || err != nil || d.Host != "mac-02" || len(d.Cells) != 1 ||
		d.Cells[0].State != api.CellQueued || d.Health == nil || d.Prune == nil {
		t.Errorf("Got(vmfleet status mac-02 --json) = exit %d, %v, %+v; want the host detail with its queued cell", code, err, d)
	}
	if _, stderr, code := o.cli("status", "mac-99"); code != 2 || !strings.Contains(stderr, "no such host") {
		t.Errorf("Got(vmfleet status mac-99) = exit %d, %q; want exit 2, no such host", code, stderr)
	}

	// The build ends: mac-02's build goes, its cell leaves the queue.
	first.state.Add(events.VM{Name: image14(), SizeGB: 40, DiskGB: 60})
	w.bk.Step()
	w.bk.Step()
	w.bk.Step()
	waitFor(t, "mac-02 building", 30*time.Second, func() bool {
		c, ok := cellOf(second.host)
		return ok && c.State == api.CellBuilding && c.Wait == nil
	})
}
