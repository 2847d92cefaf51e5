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
	track   readyTrack
}

type hostView struct {
	h       events.HostHealth
	summary string // the readiness line last told
	// computed for view.specKey; stale when dirty
	dirty    bool
	ready    bool // ready for every release of the spec, with its expected image
	prunable []string
	why      string // not ready: which releases and why
	// held says, per image of readyTrack.images, whether the host holds
	// it ready (as readyTrack judges).
	held []bool
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

// health takes one health event, seen at fleet time at, and returns the
// story line, if readiness changed as told. Unless judge, the readiness
// measure keeps the host's last verdict.
func (v *view) health(h events.HostHealth, at time.Duration, judge bool) string {
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
	if judge {
		v.track.host(hv, at)
	}
	line := readinessLine(h)
	if line == hv.summary {
		return ""
	}
	hv.summary = line
	return line
}

// readinessLine is "host mac-03 ready", or "host mac-03 not ready: release 14
// image missing, release 13 bootstrap mismatch"; during a staged rollout it
// adds the staged images: "; staged images: 1 of 2 held (release 14 image
// missing)" or "; holds every staged image too".
func readinessLine(h events.HostHealth) string {
	line := "host " + h.Host + " ready"
	if !h.Ready {
		line = "host " + h.Host + " not ready: " + strings.Join(unready(h.Releases), ", ")
	}
	if len(h.Staged) == 0 {
		return line
	}
	missing := unready(h.Staged)
	if len(missing) == 0 {
		return line + "; holds every staged image too"
	}
	return fmt.Sprintf("%s; staged images: %d of %d held (%s)", line, len(h.Staged)-len(missing), len(h.Staged), strings.Join(missing, ", "))
}

// unready is "release 14 image missing" for every status not ready.
func unready(sts []events.ReleaseStatus) []string {
	var why []string
	for _, r := range sts {
		if !r.Ready {
			why = append(why, "release "+r.Release+" "+r.Reason.Info().Label)
		}
	}
	return why
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

// readyTrack measures, from a spec change to the end of the run, how many
// hosts are ready for the spec in force at every instant the event stream
// shows: a host is ready for it when its last report has, for every
// release of the spec in force, that release's image checked ready —
// among the statuses of the spec it checked against or of the staged spec
// it checked against (after a promotion, until the host checks again, the
// promoted images are its staged ones: it holds them, and jobs can target
// them by their vm-image tag). The caller holds view.mu.
type readyTrack struct {
	on     bool
	rev    uint64   // the revision of the spec in force judged against
	images []string // the image of each release of the spec in force
	// held counts, per image, the hosts holding it ready; ready the hosts
	// holding every one; hosts the fleet's size.
	held         []int
	ready, hosts int
	last         time.Duration // fleet time of the last update
	// min is the fewest ready hosts seen; outage the fleet time during
	// which some image of the spec in force was ready on no host;
	// notReady the host-time of hosts not ready.
	min              int
	outage, notReady time.Duration
	started          bool
}

// trackResult is what readyTrack measured.
type trackResult struct {
	min              int
	outage, notReady time.Duration
	started          bool
}

// startTrack starts measuring at fleet time at, against spec's images,
// over a fleet of hosts.
func (v *view) startTrack(spec events.Spec, hosts int, at time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.track = readyTrack{on: true, started: true, hosts: hosts, last: at, rev: spec.Revision}
	v.track.target(spec.Images, v.hosts)
	v.track.min = v.track.ready
}

// retarget judges every host against spec's images from fleet time at on.
func (v *view) retarget(spec events.Spec, at time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.track.on {
		return
	}
	v.track.advance(at)
	v.track.rev = max(v.track.rev, spec.Revision)
	v.track.target(spec.Images, v.hosts)
	v.track.min = min(v.track.min, v.track.ready)
}

// behind tells whether a report checked against spec revision rev shows
// the spec in force moved on since the measure last learnt of it.
func (v *view) behind(rev uint64) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.track.on && rev > v.track.rev
}

// stopTrack ends the measure at fleet time at and returns it.
func (v *view) stopTrack(at time.Duration) trackResult {
	v.mu.Lock()
	defer v.mu.Unlock()
	t := &v.track
	if t.on {
		t.advance(at)
		t.on = false
	}
	return trackResult{min: t.min, outage: t.outage, notReady: t.notReady, started: t.started}
}

// target sets the images judged and judges every host.
func (t *readyTrack) target(spec events.ImageSpec, hosts map[string]*hostView) {
	t.images = t.images[:0]
	for _, r := range spec.Releases {
		t.images = append(t.images, spec.ImageName(r))
	}
	t.held, t.ready = make([]int, len(t.images)), 0
	for _, hv := range hosts {
		hv.held = nil
		t.count(hv, +1)
	}
}

// host judges one host again after a report at fleet time at.
func (t *readyTrack) host(hv *hostView, at time.Duration) {
	if !t.on {
		return
	}
	t.advance(at)
	t.count(hv, -1)
	t.count(hv, +1)
	t.min = min(t.min, t.ready)
}

// count adds (sign +1: judging it anew) or takes away (-1) one host.
func (t *readyTrack) count(hv *hostView, sign int) {
	if sign < 0 {
		if hv.held == nil {
			return
		}
	} else {
		hv.held = heldImages(hv.h, t.images)
	}
	all := true
	for i, ok := range hv.held {
		if ok {
			t.held[i] += sign
		}
		all = all && ok
	}
	if all {
		t.ready += sign
	}
	if sign < 0 {
		hv.held = nil
	}
}

// heldImages says, per image, whether h reports it checked ready.
func heldImages(h events.HostHealth, images []string) []bool {
	out := make([]bool, len(images))
	for i, img := range images {
		for _, sts := range [][]events.ReleaseStatus{h.Releases, h.Staged} {
			for _, st := range sts {
				if st.ExpectedImage == img && st.Ready {
					out[i] = true
				}
			}
		}
	}
	return out
}

// advance counts the time since the last update up to at.
func (t *readyTrack) advance(at time.Duration) {
	if at <= t.last {
		return
	}
	dt := at - t.last
	t.last = at
	if slices.Contains(t.held, 0) || len(t.held) == 0 {
		t.outage += dt
	}
	t.notReady += dt * time.Duration(t.hosts-t.ready)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
