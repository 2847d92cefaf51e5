package fleetsim

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vmfleet/vmfleet/cleanup"
	"github.com/vmfleet/vmfleet/events"
)

// view is the fleet as a consumer of the event stream sees it: every host's
// latest health, builds, commands and prune outcomes. Safe for concurrent use.
type view struct {
	mu      sync.Mutex
	hosts   map[string]*hostView
	builds  map[string]events.BuildState // by key, latest state
	pulls   int                          // pull commands seen
	prunes  int                          // prune commands seen
	results map[events.PruneResult]int
	points  []ReadinessPoint
	// specKey is the spec the per-host verdicts were computed for.
	specKey string
}

type hostView struct {
	h       events.HostHealth
	summary string // the readiness line last told
	// computed for view.specKey; stale when dirty
	dirty    bool
	ready    bool // ready for every release of the spec, with its expected image
	prunable []string
	why      string // not ready: which releases and why
}

// ReadinessPoint is the fleet readiness as the orchestrator published it.
type ReadinessPoint struct {
	At    Seconds `json:"at_s"` // fleet time
	Ready int     `json:"ready"`
	Total int     `json:"total"`
	Stale int     `json:"stale"`
}

func newView() *view {
	return &view{hosts: map[string]*hostView{}, builds: map[string]events.BuildState{}, results: map[events.PruneResult]int{}}
}

// health takes one health event and returns the story line, if readiness
// changed as told.
func (v *view) health(h events.HostHealth) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	hv := v.hosts[h.Host]
	if hv == nil {
		hv = &hostView{}
		v.hosts[h.Host] = hv
	} else if hv.h.BootID == h.BootID && h.Seq <= hv.h.Seq {
		return "" // an older report arriving late
	}
	hv.h, hv.dirty = h, true
	line := readinessLine(h)
	if line == hv.summary {
		return ""
	}
	hv.summary = line
	return line
}

// readinessLine is "host mac-03 ready", or "host mac-03 not ready: release 14
// image missing, release 13 bootstrap mismatch".
func readinessLine(h events.HostHealth) string {
	if h.Ready {
		return "host " + h.Host + " ready"
	}
	var why []string
	for _, r := range h.Releases {
		if !r.Ready {
			why = append(why, "release "+r.Release+" "+r.Reason.Info().Label)
		}
	}
	return "host " + h.Host + " not ready: " + strings.Join(why, ", ")
}

// build records a build's state; it returns how many builds are live.
func (v *view) build(b events.BuildEvent) int {
	v.mu.Lock()
	v.builds[b.Key] = b.State
	v.mu.Unlock()
	return v.live()
}

// live is how many builds are in progress.
func (v *view) live() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := 0
	for _, st := range v.builds {
		if st.Live() {
			n++
		}
	}
	return n
}

func (v *view) command(verb string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	switch verb {
	case events.VerbPull:
		v.pulls++
	case events.VerbPrune:
		v.prunes++
	}
}

func (v *view) pruneOutcome(o events.PruneOutcome) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.results[o.Result]++
}

func (v *view) readiness(at time.Duration, r events.FleetReadiness) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.points = append(v.points, ReadinessPoint{At: Seconds(at), Ready: r.Ready, Total: r.Hosts, Stale: r.Stale})
}

// fleetStatus is the fleet judged against one spec.
type fleetStatus struct {
	hosts    int      // hosts heard from
	notReady []string // "mac-03 (release 14 image missing)"
	// notReadyHosts are the same hosts' tokens.
	notReadyHosts []string
	prunable      []string // "mac-01: bun-build-..."
}

// status judges every host's last report against spec: ready for every
// release with the spec's expected image, and what the cleanup rules would
// still prune (window open, as an operator's prune --now would see it).
func (v *view) status(spec events.Spec) fleetStatus {
	v.mu.Lock()
	defer v.mu.Unlock()
	key := fmt.Sprintf("%v|%v", spec.Images, spec.Cleanup)
	all := key != v.specKey
	v.specKey = key
	var st fleetStatus
	for _, host := range sortedKeys(v.hosts) {
		hv := v.hosts[host]
		if all || hv.dirty {
			hv.judge(spec)
		}
		st.hosts++
		if !hv.ready {
			st.notReady = append(st.notReady, host+" ("+hv.why+")")
			st.notReadyHosts = append(st.notReadyHosts, host)
		}
		for _, vm := range hv.prunable {
			st.prunable = append(st.prunable, host+": "+vm)
		}
	}
	return st
}

func (hv *hostView) judge(spec events.Spec) {
	hv.dirty = false
	hv.ready, hv.why = true, ""
	var why []string
	for _, r := range spec.Images.Releases {
		st, ok := hv.h.Release(r)
		switch {
		case !ok:
			why = append(why, "release "+r+" not reported")
		case st.ExpectedImage != spec.Images.ImageName(r):
			why = append(why, "release "+r+" checked against an older spec")
		case !st.Ready:
			why = append(why, "release "+r+" "+st.Reason.Info().Label)
		}
	}
	if len(why) > 0 {
		hv.ready, hv.why = false, strings.Join(why, ", ")
	}
	res := cleanup.Plan(cleanup.Input{
		Spec: spec.Images, Policy: spec.Cleanup, VMs: hv.h.VMs, Releases: hv.h.Releases,
		Window: cleanup.WindowState{Open: true}, PruneNow: true,
	})
	hv.prunable = res.PruneNames()
}

// seq is the sequence number of the host's last report.
func (v *view) seq(host string) (uint64, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if hv := v.hosts[host]; hv != nil {
		return hv.h.Seq, true
	}
	return 0, false
}

// vm returns a VM from the host's last report.
func (v *view) vm(host, name string) (events.VM, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if hv := v.hosts[host]; hv != nil {
		for _, vm := range hv.h.VMs {
			if vm.Name == name {
				return vm, true
			}
		}
	}
	return events.VM{}, false
}

// counts returns the commands and prune outcomes seen.
func (v *view) counts() (pulls, prunes int, results map[events.PruneResult]int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[events.PruneResult]int, len(v.results))
	for k, n := range v.results {
		out[k] = n
	}
	return v.pulls, v.prunes, out
}

func (v *view) timeline() []ReadinessPoint {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.points)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
