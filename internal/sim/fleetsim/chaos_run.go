package fleetsim

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/rungroup"
	"github.com/vmfleet/vmfleet/internal/sim/buildkitefake"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

// Violation kinds the chaos adds to the safety checker.
const (
	// VTagWithoutImage: a job-routing tag said an image was ready (or
	// held) on a host that did not have it.
	VTagWithoutImage = "tag_without_image"
	// VHostLeftBehind: once the faults stopped, a host never became ready
	// on the spec in force again.
	VHostLeftBehind = "host_left_behind"
	// VIgnoredRateLimit: a Buildkite request came during a 429 storm more
	// than a second after a 429 announced its end (RateLimit-Reset), from
	// an orchestrator that had been answered.
	VIgnoredRateLimit = "ignored_rate_limit"
)

// chaosDiskReserve is the cleanup policy's disk emergency threshold under
// chaos: a disk filling up puts the host below it.
const chaosDiskReserve = 100 << 30

// ChaosResult is what the chaos did and how the fleet healed.
type ChaosResult struct {
	Seed uint64 `json:"chaos_seed"`
	// Faults counts the faults injected, by kind (every kind scheduled).
	Faults map[string]int `json:"faults"`
	// Builds are the builds created, IdealBuilds those the fleet needed,
	// RetriedBuilds those created again after a build the chaos failed:
	// Builds = IdealBuilds + RetriedBuilds when nothing else built twice.
	Builds        int `json:"builds"`
	IdealBuilds   int `json:"ideal_builds"`
	RetriedBuilds int `json:"retried_builds"`
	// RebuiltBuilds (host mode) are the builds of an image the chaos
	// deleted from its host once built (vm_deleted, host_reimaged): the
	// host builds it again. Builds = IdealBuilds + RetriedBuilds +
	// RebuiltBuilds when nothing else built twice.
	RebuiltBuilds int `json:"rebuilt_builds,omitempty"`
	// Skipped are the fault kinds that do not apply to the fleet, each
	// with why (SkippedKinds): none of them is scheduled.
	Skipped map[string]string `json:"skipped_faults,omitempty"`
	// FaultsStart and FaultsStop bound the chaos window; LastFaultEnd is
	// when the last fault ended (fleet time since the start).
	FaultsStart  Seconds `json:"faults_start_s"`
	FaultsStop   Seconds `json:"faults_stop_s"`
	LastFaultEnd Seconds `json:"last_fault_end_s"`
	// HealedAfterLastFault is how long after the last fault ended the
	// fleet converged (fleet time). When the faults end before a clean
	// run could have converged, much of it is the rollout itself, not
	// healing: see ConvergeFloor and HealedAfterFloor.
	HealedAfterLastFault Seconds `json:"healed_after_last_fault_seconds"`
	// ReadyAfterLastFault is how long after the last fault ended every
	// host was ready on the new spec (0: ready before it ended).
	ReadyAfterLastFault Seconds `json:"ready_after_last_fault_seconds"`
	// ConvergeFloor is the fleet time (since the start) before which even
	// a run without faults could not converge: the bump, the physical
	// floor of readiness (Cost.FloorSeconds), then the old images' deletes
	// at the prune cap (Config.PruneFloor). HealedAfterFloor is how long
	// after the later of the last fault's end and that floor the fleet
	// converged: what the faults cost once they stopped, beyond the
	// rollout's own time.
	ConvergeFloor    Seconds `json:"converge_floor_s"`
	HealedAfterFloor Seconds `json:"healed_after_floor_seconds"`
	// Recovery is, by kind, how long after a fault ended what it broke
	// worked again (fleet time): a host ready on the spec in force, a
	// leader serving, every host heard from after a NATS restart, a key's
	// build passed, a Buildkite request answered.
	Recovery map[string]Recovery `json:"recovery"`
	// BuildkiteRefused counts the Buildkite requests the chaos answered
	// 429 or 5xx.
	BuildkiteRefused map[string]int `json:"buildkite_refused"`
	// Schedule is the fault schedule (Schedule).
	Schedule []Fault `json:"schedule"`
}

// Recovery sums the recovery times of one fault kind.
type Recovery struct {
	N    int     `json:"n"`
	Mean Seconds `json:"mean_s"`
	Max  Seconds `json:"max_s"`
}

// chaosRun is one run's fault injection (nil without chaos: every method
// is then a no-op).
type chaosRun struct {
	s    *Sim
	cfg  Chaos
	plan []Fault
	win  time.Duration // wall-clock

	e      *env
	g      *rungroup.Group
	ctx    context.Context
	url    string // NATS
	dir    string
	begun  chan struct{}
	acts   chan action
	reps   *replicas
	bkProx *bkProxy

	mu      sync.Mutex
	start   time.Time // wall-clock; zero until the bump
	counts  map[string]int
	lastEnd time.Time
	pending int // faults started and not ended
	// Faults fired by the Nth event, and the events counted so far.
	byBuild, byCreate, byWebhook, byPull, byDelete map[int]Fault
	nCreate, nWebhook, nPull, nDelete              int
	firstBuild                                     int
	doomed                                         map[int]bool   // build numbers the chaos fails
	failedKeys                                     map[string]int // build key → builds failed by the chaos
	lostKeys                                       map[string]int // build key → its image deleted by the chaos once built (host mode)
	recov                                          map[string][]time.Duration
	refused                                        map[string]int
	// plans are the disks the agents planned their prunes against.
	plans diskPlans
}

// action is something the injector does at a wall-clock instant.
type action struct {
	at time.Time
	fn func(ctx context.Context)
}

func newChaos(s *Sim) *chaosRun {
	if !s.cfg.Chaos.On {
		return nil
	}
	c := &chaosRun{s: s, cfg: s.cfg.Chaos, plan: Schedule(s.cfg), begun: make(chan struct{}), acts: make(chan action, 1024),
		counts: map[string]int{}, byBuild: map[int]Fault{}, byCreate: map[int]Fault{}, byWebhook: map[int]Fault{},
		byPull: map[int]Fault{}, byDelete: map[int]Fault{}, doomed: map[int]bool{}, failedKeys: map[string]int{}, lostKeys: map[string]int{},
		recov: map[string][]time.Duration{}, refused: map[string]int{}}
	c.win = s.cfg.real(c.cfg.window(), time.Millisecond)
	for _, f := range c.plan {
		switch f.Kind {
		case FaultBuildFail, FaultBuildHang:
			c.byBuild[f.Nth] = f
		case FaultCreate500:
			c.byCreate[f.Nth] = f
		case FaultWebhookLost, FaultWebhookDuplicated, FaultWebhookReordered:
			c.byWebhook[f.Nth] = f
		case FaultAgentRestartPull:
			c.byPull[f.Nth] = f
		case FaultAgentRestartPrune:
			c.byDelete[f.Nth] = f
		}
	}
	for _, k := range ChaosKinds() {
		if slices.ContainsFunc(c.plan, func(f Fault) bool { return f.Kind == k.Name }) {
			c.counts[k.Name] = 0
		}
	}
	return c
}

// real is a fleet-time duration in wall-clock time.
func (c *chaosRun) real(d time.Duration) time.Duration { return c.s.cfg.real(d, 0) }

// inWindow tells whether faults may still start now.
func (c *chaosRun) inWindow() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.start.IsZero() && time.Since(c.start) < c.win
}

// begin starts the chaos window (at the bump).
func (c *chaosRun) begin() {
	if c == nil {
		return
	}
	c.mu.Lock()
	if !c.start.IsZero() {
		c.mu.Unlock()
		return
	}
	c.start = time.Now()
	for _, b := range c.e.bk.Builds() {
		c.firstBuild = max(c.firstBuild, b.Number)
	}
	for n, f := range c.byBuild {
		if f.Kind == FaultBuildFail {
			c.doomed[c.firstBuild+n] = true
		}
	}
	c.mu.Unlock()
	c.s.emit(Event{Kind: KindNote, Text: fmt.Sprintf("chaos: %d faults of %d kinds over the next %s (seed %d); they stop then, and healing is measured",
		len(c.plan), len(c.counts), short(c.cfg.window()), c.cfg.Seed)})
	close(c.begun)
}

// fired counts a fault that started; ended (below) when it ends.
func (c *chaosRun) fired(f Fault, detail string) {
	c.mu.Lock()
	c.counts[f.Kind]++
	c.pending++
	c.mu.Unlock()
	host := ""
	if f.Host != "" {
		host = f.Host + ": "
	}
	c.s.emit(Event{Kind: KindNote, Host: f.Host, Text: "chaos " + f.Kind + ": " + host + detail})
}

// ended marks a fault's end; recover, if set, is polled until what it broke
// works again, and the time taken is that kind's recovery.
func (c *chaosRun) ended(kind string, recover func() bool) {
	now := time.Now()
	c.mu.Lock()
	c.pending--
	if now.After(c.lastEnd) {
		c.lastEnd = now
	}
	c.mu.Unlock()
	if recover != nil {
		c.probe(kind, now, recover)
	}
}

// probe polls recover until it holds and records the fleet time since now
// as a recovery of kind.
func (c *chaosRun) probe(kind string, now time.Time, recover func() bool) {
	c.g.Go(func() error {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		from := now
		for !recover() {
			if hostKinds[kind] && !c.imagesAvailable() {
				// A host cannot be ready before the images exist:
				// its recovery counts from then.
				from = time.Now()
			}
			select {
			case <-c.ctx.Done():
				return nil
			case <-t.C:
			}
		}
		c.mu.Lock()
		c.recov[kind] = append(c.recov[kind], c.s.cfg.Fleet(time.Since(from)))
		c.mu.Unlock()
		return nil
	})
}

// hostKinds are the kinds whose recovery is a host ready again.
var hostKinds = map[string]bool{
	FaultHostOffline: true, FaultHostRebooted: true, FaultHostReimaged: true, FaultTartError: true, FaultTartHang: true,
	FaultVMDeleted: true, FaultDiskFull: true, FaultAgentRestartPull: true, FaultAgentRestartPrune: true, FaultClockSkew: true,
}

// imagesAvailable tells whether every image of the spec in force can be
// had: pushed to the registry (host mode: always, a host builds its own).
func (c *chaosRun) imagesAvailable() bool {
	spec, _ := c.s.world.current()
	if spec.Images.Registry == "" {
		return true
	}
	for _, r := range spec.Images.Releases {
		if !c.s.reg.has(spec.Images.RegistryRef(r)) {
			return false
		}
	}
	return true
}

// instant is a fault that starts and ends at once.
func (c *chaosRun) instant(f Fault, detail string, recover func() bool) {
	c.fired(f, detail)
	c.ended(f.Kind, recover)
}

// settled tells whether the faults stopped: the window is over and every
// fault that started has ended.
func (c *chaosRun) settled() bool {
	if c == nil {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.start.IsZero() && time.Since(c.start) >= c.win && c.pending == 0
}

// later has the injector run fn at at.
func (c *chaosRun) later(at time.Time, fn func(ctx context.Context)) {
	select {
	case c.acts <- action{at: at, fn: fn}:
	case <-c.ctx.Done():
	}
}

// run is the injector: from the bump, it starts and ends the scheduled
// faults, and runs what the event-fired ones asked for, one at a time.
func (c *chaosRun) run(ctx context.Context) error {
	select {
	case <-c.begun:
	case <-ctx.Done():
		return nil
	}
	var queue []action
	for _, f := range c.plan {
		if f.Nth == 0 {
			f := f
			queue = append(queue, action{at: c.start.Add(c.real(f.At.D())), fn: func(ctx context.Context) { c.inject(ctx, f) }})
		}
	}
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		sort.SliceStable(queue, func(i, j int) bool { return queue[i].at.Before(queue[j].at) })
		if len(queue) > 0 && !time.Now().Before(queue[0].at) {
			a := queue[0]
			queue = queue[1:]
			a.fn(ctx)
			continue
		}
		wait := time.Hour
		if len(queue) > 0 {
			wait = time.Until(queue[0].at)
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case a := <-c.acts:
			queue = append(queue, a)
		case <-t.C:
		}
	}
}

// inject starts a fault scheduled at a time, and schedules its end.
func (c *chaosRun) inject(ctx context.Context, f Fault) {
	end := time.Now().Add(c.real(f.For.D()))
	var h *simHost
	if f.Host != "" {
		h = c.s.hostByName(f.Host)
	}
	switch f.Kind {
	case FaultBuildkite429, FaultBuildkite5xx:
		c.bkProx.storm(f, end)
		c.fired(f, fmt.Sprintf("every Buildkite request answered %s for %s", c.bkProx.what(f), f.For.D()))
		c.later(end, func(context.Context) { c.ended(f.Kind, c.bkProx.answeredSince(time.Now())) })
	case FaultLeaderKilled:
		id := c.reps.kill(ctx)
		if id == "" {
			// No replica leads at this instant (a failover under way):
			// try again a fleet minute later, within the window.
			if c.inWindow() {
				c.later(time.Now().Add(c.real(time.Minute)), func(ctx context.Context) { c.inject(ctx, f) })
			}
			return
		}
		c.fired(f, fmt.Sprintf("orchestrator replica %s (the leader) killed; back in %s", id, f.For.D()))
		// Its recovery is the failover: from the kill until a replica
		// leads again.
		c.probe(f.Kind, time.Now(), c.reps.leading)
		c.later(end, func(ctx context.Context) {
			c.reps.restart(ctx, id)
			c.ended(f.Kind, nil)
		})
	case FaultNATSRestarted:
		if err := c.stopNATS(); err != nil {
			c.s.opts.log.Warn("chaos: stop the nats-server", "err", err)
			return
		}
		c.fired(f, fmt.Sprintf("nats-server stopped; back in %s", f.For.D()))
		c.later(end, func(context.Context) {
			if err := c.startNATS(); err != nil {
				c.s.opts.log.Error("chaos: start the nats-server again", "err", err)
			}
			c.ended(f.Kind, c.allHeardSince(time.Now()))
		})
	case FaultHostOffline:
		h.chaos.offline(true)
		c.fired(f, fmt.Sprintf("network down for %s", f.For.D()))
		c.later(end, func(context.Context) { h.chaos.offline(false); c.ended(f.Kind, c.hostReady(h)) })
	case FaultHostRebooted, FaultHostReimaged:
		h.chaos.stopAgent(ctx)
		what := "down (agent stopped)"
		if f.Kind == FaultHostReimaged {
			what += "; reimaged: " + c.reimage(h)
		}
		c.fired(f, fmt.Sprintf("%s for %s", what, f.For.D()))
		c.later(end, func(ctx context.Context) {
			c.restartAgent(ctx, h)
			c.ended(f.Kind, c.hostReady(h))
		})
	case FaultTartError:
		errs := make([]error, f.Value)
		for i := range errs {
			errs[i] = fmt.Errorf("tart: simulated failure (chaos)")
		}
		h.fake.FailNext(tarttest.OpList, errs...)
		h.trigger()
		c.instant(f, fmt.Sprintf("the next %d tart list calls fail", f.Value), c.hostReady(h))
	case FaultTartHang:
		h.fake.SetDelay(tarttest.OpList, c.real(time.Duration(f.Value)*time.Minute))
		c.fired(f, fmt.Sprintf("tart list takes %d min at every call for %s", f.Value, f.For.D()))
		c.later(end, func(context.Context) { h.fake.SetDelay(tarttest.OpList, 0); c.ended(f.Kind, c.hostReady(h)) })
	case FaultVMDeleted:
		img := c.deleteBehind(ctx, h)
		c.instant(f, "deleted behind vmfleet's back: "+img, c.hostReady(h))
	case FaultDiskFull:
		free := h.disk("").FreeBytes
		// Deletes are judged by the disk the agent planned its prune
		// against (chaos_disk.go), whenever they come.
		h.chaos.fill.Store(max(free-chaosDiskReserve/2, 0))
		h.trigger()
		c.fired(f, fmt.Sprintf("disk filled to %d GB free (disk emergency below %d GB) for %s", chaosDiskReserve/2>>30, chaosDiskReserve>>30, f.For.D()))
		c.later(end, func(context.Context) { h.chaos.fill.Store(0); h.trigger(); c.ended(f.Kind, c.hostReady(h)) })
	case FaultClockSkew:
		off := time.Duration(f.Value) * time.Second
		h.chaos.skew.Store(int64(off))
		h.trigger()
		c.fired(f, fmt.Sprintf("clock %s off for %s", off, f.For.D()))
		c.later(end, func(context.Context) { h.chaos.skew.Store(0); h.trigger(); c.ended(f.Kind, c.hostReady(h)) })
	}
}

// hostByName is the host named name (nil if none).
func (s *Sim) hostByName(name string) *simHost {
	for _, h := range s.hosts {
		if h.name == name {
			return h
		}
	}
	return nil
}

// reimage changes a stopped host's inventory: an image of the spec in
// force goes, a VM not ours comes.
func (c *chaosRun) reimage(h *simHost) string {
	spec, _ := c.s.world.current()
	out := "no image of the spec to lose"
	for _, img := range currentImages(spec) {
		if h.fake.Has(img) {
			h.chaos.removedBehind(img)
			_ = h.fake.Delete(context.Background(), img)
			c.lost(spec, img, h)
			out = img + " gone"
			break
		}
	}
	scratch := "scratch-" + h.name
	h.fake.Add(events.VM{Name: scratch, DiskGB: 50, SizeGB: 10})
	return out + ", " + scratch + " added"
}

// deleteBehind deletes an image of the spec in force from h, as someone at
// the host might.
func (c *chaosRun) deleteBehind(ctx context.Context, h *simHost) string {
	spec, _ := c.s.world.current()
	for _, img := range currentImages(spec) {
		if h.fake.Has(img) {
			if vm, ok := c.s.view.vm(h.token, img); ok && vm.Busy() {
				continue
			}
			h.chaos.removedBehind(img)
			_ = h.fake.Delete(context.WithoutCancel(ctx), img)
			c.lost(spec, img, h)
			return img
		}
	}
	return "(no image of the spec on the host)"
}

// lost records an image of spec deleted from h by the chaos: in host mode
// the host builds it again (in registry mode it pulls it again).
func (c *chaosRun) lost(spec events.Spec, img string, h *simHost) {
	if spec.Images.Registry != "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lostKeys[builds.RecordKey(img, h.token)]++
}

// restartAgent starts h's agent again (a new process: a new boot id).
func (c *chaosRun) restartAgent(ctx context.Context, h *simHost) {
	if ctx.Err() != nil {
		return
	}
	if err := c.s.startAgent(c.ctx, c.g, h, c.url, c.dir); err != nil {
		c.s.opts.log.Error("chaos: restart agent", "host", h.name, "err", err)
	}
}

// pulling is called as a pull starts on host: the Nth pull of the chaos
// window restarts the host's agent in its middle.
func (c *chaosRun) pulling(host string) {
	if c == nil || !c.inWindow() {
		return
	}
	c.mu.Lock()
	c.nPull++
	f, ok := c.byPull[c.nPull]
	c.mu.Unlock()
	if ok {
		c.restartMidway(f, host, c.s.tm.Pull/2, "pull")
	}
}

// deleting is called as a delete starts on host (a prune's, or a build's
// clean-up): the Nth of the chaos window restarts the host's agent in its
// middle.
func (c *chaosRun) deleting(host string) {
	if c == nil || !c.inWindow() {
		return
	}
	c.mu.Lock()
	c.nDelete++
	f, ok := c.byDelete[c.nDelete]
	c.mu.Unlock()
	if ok {
		c.restartMidway(f, host, c.s.tm.Delete/2, "delete")
	}
}

// restartMidway stops host's agent after midway and starts it again a
// fleet minute later.
func (c *chaosRun) restartMidway(f Fault, host string, midway time.Duration, what string) {
	h := c.s.byToken[host]
	if h == nil {
		return
	}
	f.Host = host
	c.later(time.Now().Add(midway), func(ctx context.Context) {
		h.chaos.stopAgent(ctx)
		c.fired(f, "agent restarted in the middle of a "+what)
		c.later(time.Now().Add(c.real(time.Minute)), func(ctx context.Context) {
			c.restartAgent(ctx, h)
			c.ended(f.Kind, c.hostReady(h))
		})
	})
}

// fails tells whether the chaos fails build b (called by the fake
// Buildkite's outcome, under its lock); dooms tells it earlier.
func (c *chaosRun) fails(b buildkitefake.Build) bool {
	if !c.dooms(b) {
		return false
	}
	c.mu.Lock()
	c.failedKeys[b.Key()]++
	c.mu.Unlock()
	return true
}

func (c *chaosRun) dooms(b buildkitefake.Build) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.doomed[b.Number]
}

// onBuild sees every build change: a doomed build failing counts as a
// fault; the Nth build to run may hang.
func (c *chaosRun) onBuild(b buildkitefake.Build) {
	c.mu.Lock()
	started := !c.start.IsZero()
	f, ok := c.byBuild[b.Number-c.firstBuild]
	doomed := c.doomed[b.Number]
	c.mu.Unlock()
	if !started || !ok {
		return
	}
	key := b.Key()
	passed := func() bool { return c.e.bk.LiveCount(key) == 0 && c.keyPassed(key) }
	switch {
	case b.State == buildkitefake.StateRunning && f.Kind == FaultBuildHang && c.inWindow():
		until := b.StartedAt.Add(c.s.tm.Build + c.real(f.For.D()))
		c.e.bk.Hold(b.Org, b.Pipeline, b.Number, until)
		f.Host = b.Env[events.EnvTargetHost]
		c.fired(f, fmt.Sprintf("build #%d (%s) hangs %s past its end", b.Number, key, f.For.D()))
		c.later(until, func(context.Context) { c.ended(f.Kind, passed) })
	case b.State == buildkitefake.StateFailed && doomed:
		c.instant(f, fmt.Sprintf("build #%d (%s) failed", b.Number, key), passed)
	}
}

// keyPassed tells whether the last build of key passed.
func (c *chaosRun) keyPassed(key string) bool {
	var last *buildkitefake.Build
	for _, b := range c.e.bk.Builds() {
		if b.Key() == key {
			last = &b
		}
	}
	return last != nil && last.State == buildkitefake.StatePassed
}

// retried is, by key, the builds the chaos made necessary beyond the
// first: one per build it failed, and (host mode) one per image it
// deleted once built.
func (c *chaosRun) retried() map[string]int {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.failedKeys)+len(c.lostKeys))
	for k, n := range c.failedKeys {
		out[k] += n
	}
	for k, n := range c.lostKeys {
		out[k] += n
	}
	return out
}

// hostReady is a recovery condition: the host reported since the
// condition was made, and its last report has every release of the spec
// in force ready with its expected image.
func (c *chaosRun) hostReady(h *simHost) func() bool {
	c.s.view.mu.Lock()
	var boot string
	var seq uint64
	if hv := c.s.view.hosts[h.token]; hv != nil {
		boot, seq = hv.h.BootID, hv.h.Seq
	}
	c.s.view.mu.Unlock()
	return func() bool {
		spec, _ := c.s.world.current()
		c.s.view.mu.Lock()
		defer c.s.view.mu.Unlock()
		hv := c.s.view.hosts[h.token]
		return hv != nil && (hv.h.BootID != boot || hv.h.Seq != seq) && reportReady(hv.h, spec)
	}
}

// reportReady tells whether a report has every release of spec ready with
// its expected image.
func reportReady(h events.HostHealth, spec events.Spec) bool {
	for _, r := range spec.Images.Releases {
		st, ok := h.Release(r)
		if !ok || !st.Ready || st.ExpectedImage != spec.Images.ImageName(r) {
			return false
		}
	}
	return true
}

// allHeardSince is a recovery condition: every host has reported since at
// (a new sequence number or boot id on the event stream).
func (c *chaosRun) allHeardSince(at time.Time) func() bool {
	type mark struct {
		boot string
		seq  uint64
	}
	c.s.view.mu.Lock()
	before := make(map[string]mark, len(c.s.view.hosts))
	for host, hv := range c.s.view.hosts {
		before[host] = mark{hv.h.BootID, hv.h.Seq}
	}
	c.s.view.mu.Unlock()
	_ = at
	return func() bool {
		c.s.view.mu.Lock()
		defer c.s.view.mu.Unlock()
		for host, m := range before {
			if hv := c.s.view.hosts[host]; hv == nil || (hv.h.BootID == m.boot && hv.h.Seq == m.seq) {
				return false
			}
		}
		return true
	}
}

// leftBehind records, once the faults stopped and the run did not
// converge, every host not ready on the spec in force.
func (c *chaosRun) leftBehind() {
	if c == nil || !c.settled() {
		return
	}
	c.s.resMu.Lock()
	converged := c.s.res.Converged
	c.s.resMu.Unlock()
	if converged {
		return
	}
	spec, _ := c.s.world.current()
	st := c.s.view.status(spec)
	for i, host := range st.notReadyHosts {
		if i == 20 {
			c.s.violate(Violation{Kind: VHostLeftBehind, Detail: fmt.Sprintf("and %d more hosts", len(st.notReadyHosts)-20)})
			break
		}
		c.s.violate(Violation{Kind: VHostLeftBehind, Host: host, Detail: "not ready on the spec in force when the run ended, after the faults stopped: " + st.notReady[i]})
	}
}

// result is what the chaos did (nil without chaos).
func (c *chaosRun) result(created, ideal int) *ChaosResult {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r := &ChaosResult{Seed: c.cfg.Seed, Faults: map[string]int{}, Builds: created, IdealBuilds: ideal,
		Recovery: map[string]Recovery{}, BuildkiteRefused: map[string]int{}, Schedule: slices.Clone(c.plan)}
	for k, n := range c.counts {
		r.Faults[k] = n
	}
	for _, n := range c.failedKeys {
		r.RetriedBuilds += n
	}
	for _, n := range c.lostKeys {
		r.RebuiltBuilds += n
	}
	r.Skipped = SkippedKinds(c.s.cfg)
	for k, n := range c.refused {
		r.BuildkiteRefused[k] = n
	}
	for k, ds := range c.recov {
		var sum, most time.Duration
		for _, d := range ds {
			sum += d
			most = max(most, d)
		}
		r.Recovery[k] = Recovery{N: len(ds), Mean: Seconds((sum / time.Duration(len(ds))).Round(time.Second)), Max: Seconds(most)}
	}
	if !c.start.IsZero() {
		r.FaultsStart = Seconds(c.s.cfg.Fleet(c.start.Sub(c.s.start)))
		r.FaultsStop = Seconds(c.s.cfg.Fleet(c.start.Add(c.win).Sub(c.s.start)))
	}
	if !c.lastEnd.IsZero() {
		r.LastFaultEnd = Seconds(c.s.cfg.Fleet(c.lastEnd.Sub(c.s.start)))
	}
	c.s.resMu.Lock()
	res := c.s.res
	c.s.resMu.Unlock()
	r.healed(res, c.s.cfg)
	return r
}
