package orchestrator

import (
	"context"
	"slices"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
	"github.com/vmfleet/vmfleet/orchestrator/hosts"
	"github.com/vmfleet/vmfleet/orchestrator/prunes"
	"github.com/vmfleet/vmfleet/orchestrator/pulls"
	"github.com/vmfleet/vmfleet/orchestrator/rollout"
)

// pullWant is a pull the pass asks for (package orchestrator/pulls).
type pullWant = pulls.Want

// relView is one release of the spec as the pass needs it.
type relView struct {
	release string
	image   string
	want    builds.Want // registry mode: the build; host mode: a template without host
	pushed  bool
}

// specView is the spec prepared once per pass.
type specView struct {
	registry bool
	rels     []relView
}

func (o *Orchestrator) view() *specView { return o.viewOf(o.Spec().Images) }

// viewOf prepares one spec's releases: the current spec's, or the staged one's.
func (o *Orchestrator) viewOf(im events.ImageSpec) *specView {
	v := &specView{registry: im.Registry != "", rels: make([]relView, 0, len(im.Releases))}
	for _, r := range im.Releases {
		img := im.ImageName(r)
		w := builds.Want{Image: img, Release: r, RegistryRef: im.RegistryRef(r), Bun: im.BunVersion, Bootstrap: im.BootstrapVersion}
		w.Key = builds.RecordKey(img, "")
		rv := relView{release: r, image: img, want: w}
		if v.registry {
			rv.pushed = o.builds.Pushed(w)
		}
		v.rels = append(v.rels, rv)
	}
	return v
}

func (v *specView) release(r string) *relView {
	for i := range v.rels {
		if v.rels[i].release == r {
			return &v.rels[i]
		}
	}
	return nil
}

// wants is what one pass derived.
type wants struct {
	builds []builds.Want
	seen   map[string]bool // build keys wanted
	pulls  []pullWant
	prune  prunes.View // the pass's cleanup side (prune.go)
	prunes []prunes.Want
	// The staged spec's builds and pulls, queued after the current
	// spec's (reconcile_staged.go).
	stagedBuilds []builds.Want
	stagedPulls  []pullWant
}

func (w *wants) reset() {
	w.builds, w.pulls, w.prunes = w.builds[:0], w.pulls[:0], w.prunes[:0]
	w.stagedBuilds, w.stagedPulls = w.stagedBuilds[:0], w.stagedPulls[:0]
	if w.seen == nil {
		w.seen = map[string]bool{}
	}
	clear(w.seen)
}

func (w *wants) addBuild(b builds.Want) {
	if !w.seen[b.Key] {
		w.seen[b.Key] = true
		w.builds = append(w.builds, b)
	}
}

// deriveHost adds what one host needs (docs/orchestrator.md#reconcile): its
// prune (prunes.Manager.Want), each other verb's want (hostVerb.derive),
// and for each release missing its image (a reason whose events.ReasonInfo
// says Missing) a pull (registry set, image pushed),
// the fleet's build (registry set, not pushed) or the host's own build (no
// registry). Stale hosts and hosts checking against another spec get nothing.
func (o *Orchestrator) deriveHost(host string, hs *hosts.State, v *specView, now time.Time, w *wants) {
	if o.fleet.Stale(hs, now) {
		return
	}
	if p, ok := o.prunes.Want(host, hs.Health, &w.prune); ok {
		w.prunes = append(w.prunes, p)
	}
	for _, vb := range o.verbs {
		if vb.derive != nil {
			vb.derive(host, hs.Health)
		}
	}
	deriveMissing(host, hs, hs.Health.Releases, v, func(p pullWant) { w.pulls = append(w.pulls, p) }, w.addBuild)
}

// deriveMissing hands on, for each release of rs missing its image and
// expected under the name v has for it, what gets the image to host: a
// pull (registry set, image pushed), the fleet's build (registry set, not
// pushed) or the host's own build (no registry).
func deriveMissing(host string, hs *hosts.State, rs []events.ReleaseStatus, v *specView, pull func(pullWant), build func(builds.Want)) {
	for i := range rs {
		st := &rs[i]
		// Missing (events.ReasonInfo): image_missing, or bootstrap_mismatch
		// (the release's image for another bootstrap; the expected one is
		// missing all the same).
		if st.Ready || !st.Reason.Info().Missing {
			continue
		}
		rv := v.release(st.Release)
		if rv == nil || st.ExpectedImage != rv.image {
			continue
		}
		switch {
		case v.registry && rv.pushed:
			pull(pullWant{Host: host, Image: rv.image, Ref: rv.want.RegistryRef, Boot: hs.Health.BootID, Seq: hs.Health.Seq})
		case v.registry:
			build(rv.want)
		default:
			b := rv.want
			b.Host = host
			b.Key = rv.want.Key + "/" + host
			build(b)
		}
	}
}

// pass is one reconcile pass: over every host when full, else over the hosts
// marked dirty since the last pass. It only derives and hands work out; API
// calls and commands run elsewhere, so a pass over 10,000 hosts stays fast.
func (o *Orchestrator) pass(ctx context.Context, full bool) {
	start := time.Now()
	now := o.now()
	v, sv := o.view(), o.stagedView()
	w := &o.scratch
	w.reset()
	for _, v := range o.verbs {
		if v.reset != nil {
			v.reset()
		}
	}
	w.prune = o.pruneView(now)
	dirty := o.fleet.TakeDirty()
	if full {
		o.fleet.Each(func(host string, hs *hosts.State) {
			o.deriveHost(host, hs, v, now, w)
			o.deriveStaged(host, hs, sv, now, w)
			o.observeDrain(host, hs, now)
		})
		o.expiries.Sweep(func(host string) bool { return o.fleet.Get(host) != nil })
	} else {
		for _, h := range dirty {
			if hs := o.fleet.Get(h); hs != nil {
				o.deriveHost(h, hs, v, now, w)
				o.deriveStaged(h, hs, sv, now, w)
				o.observeDrain(h, hs, now)
			}
		}
	}
	w.queue()
	// Act only on a complete picture: until the stream is replayed, a host
	// not yet seen would look like a host that needs nothing.
	// Actions run in the leader's term context (term.go): cancelled
	// the moment leadership ends, drained at shutdown.
	if ctx, lead := o.termContext(ctx); lead && o.fleet.CaughtUp() {
		o.announceExpired(ctx, true)
		o.builds.Ensure(ctx, w.builds)
		for _, v := range o.verbs {
			v.dispatch(ctx, w, full)
		}
		if full {
			o.builds.Sweep(ctx, w.seen)
			o.fleet.ForgetStale(ctx, now) // package hosts
		}
	}
	o.announceExpired(ctx, false) // a follower's: not announced
	if full {
		o.prunes.SweepPlans()
	}
	// The summary walks every host: on dirty passes at most once a (real)
	// second, as a bound on work rather than a decision.
	if full || time.Since(o.lastSummary) >= time.Second {
		o.lastSummary = time.Now()
		o.summarize(ctx, now)
	}
	kind := "dirty"
	if full {
		kind = "full"
	}
	o.metrics.reconcile.WithLabelValues(kind).Observe(time.Since(start).Seconds())
}

// summarize computes fleet readiness and host metrics, publishing readiness
// when it changed.
func (o *Orchestrator) summarize(ctx context.Context, now time.Time) {
	sp := o.Spec()
	r := events.FleetReadiness{At: now.UTC()}
	per := make([]events.ReleaseReadiness, len(sp.Images.Releases))
	for i, rel := range sp.Images.Releases {
		per[i].Release = rel
	}
	next := o.next.Load()
	roll := newRolloutCounter(next)
	o.fleet.Each(func(_ string, hs *hosts.State) {
		r.Hosts++
		if o.fleet.Stale(hs, now) {
			r.Stale++
			return
		}
		roll.add(hs.Health)
		if hs.Health.Ready {
			r.Ready++
		}
		for i := range per {
			per[i].Total++
			if st, ok := hs.Health.Release(per[i].Release); ok && st.Ready {
				per[i].Ready++
			}
		}
	})
	r.Releases = per
	o.nonStaleHosts = r.Hosts - r.Stale // the prune budget's base (prune.go)
	r.Rollout = roll.finish(o)
	if r.Rollout != nil {
		o.autoPromote(ctx, next, r.Rollout.Ready, r.Rollout.Hosts)
	}
	o.metrics.hosts.WithLabelValues("ready").Set(float64(r.Ready))
	o.metrics.hosts.WithLabelValues("not_ready").Set(float64(r.Hosts - r.Ready - r.Stale))
	o.metrics.hosts.WithLabelValues("stale").Set(float64(r.Stale))
	o.builds.UpdateGauges()

	prev := o.readiness.Load()
	if prev != nil && sameReadiness(*prev, r) {
		return
	}
	o.readiness.Store(&r)
	if o.opts.isLeader() {
		o.publish(ctx, o.subj.Readiness(), events.TypeReadiness, "fleet", r)
	}
}

func sameReadiness(a, b events.FleetReadiness) bool {
	return a.Hosts == b.Hosts && a.Ready == b.Ready && a.Stale == b.Stale && slices.Equal(a.Releases, b.Releases) &&
		rollout.SameProgress(a.Rollout, b.Rollout, b.At)
}

// loop runs passes: a dirty pass on every wake-up, a full pass every tick or
// when asked (build state changes, spec changes, Trigger).
func (o *Orchestrator) loop(ctx context.Context) error {
	t := time.NewTicker(o.cfg.Tick)
	defer t.Stop()
	o.pass(ctx, true)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			o.pass(ctx, true)
		case <-o.fullWake:
			o.pass(ctx, true)
		case <-o.fleet.Wake():
			o.pass(ctx, false)
		}
	}
}

// Trigger asks for a full reconcile pass soon; bursts make one pass.
func (o *Orchestrator) Trigger() {
	select {
	case o.fullWake <- struct{}{}:
	default:
	}
}
