package rollout

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vmfleet/vmfleet/events"
)

// A staged rollout's progress as operators watch it (events.Rollout in
// FleetReadiness: `vmfleet status`, the dashboard, `vmfleet events`): what
// the staged spec changes, the share the auto-promote waits for, and an
// ETA. The core counts the hosts, builds and pulls where it computes the
// readiness; what is derived from those counts lives here, pure but for
// Tracker's memory of the counts over time.

// DefaultWindow is how far back the ETA looks at the rate of hosts coming
// to hold every staged image.
const DefaultWindow = 10 * time.Minute

// PromoteHosts is how many of hosts must hold every staged image for an
// auto-promote at share: share of hosts rounded up, 0 without one.
func PromoteHosts(share float64, hosts int) int {
	if share <= 0 || hosts <= 0 {
		return 0
	}
	// Round away float noise first: 0.9 of 10 hosts is 9, not 10.
	return int(math.Ceil(math.Round(share*float64(hosts)*1e6) / 1e6))
}

// Changes lists what next changes of cur, in the order of the spec stage
// flags: releases, bun, bootstrap, registry, name_template.
func Changes(cur, next events.ImageSpec) []events.SpecFieldChange {
	var out []events.SpecFieldChange
	add := func(field, from, to string) {
		if from != to {
			out = append(out, events.SpecFieldChange{Field: field, From: from, To: to})
		}
	}
	add("releases", strings.Join(cur.Releases, ","), strings.Join(next.Releases, ","))
	add("bun", cur.BunVersion, next.BunVersion)
	add("bootstrap", cur.BootstrapVersion, next.BootstrapVersion)
	add("registry", cur.Registry, next.Registry)
	tmpl := func(s string) string {
		if s == "" {
			return events.DefaultNameTemplate
		}
		return s
	}
	add("name_template", tmpl(cur.NameTemplate), tmpl(next.NameTemplate))
	return out
}

// Sample is the count of hosts holding every staged image at one time.
type Sample struct {
	At    time.Time
	Ready int
}

// Builds is what the ETA knows of builds: when each live build of a
// staged image was requested, and how long finished (passed) builds took.
type Builds struct {
	Live      []time.Time
	Durations []time.Duration
}

// Typical is the median of the finished builds' durations, 0 without one.
func (b Builds) Typical() time.Duration {
	var ds []time.Duration
	for _, d := range b.Durations {
		if d > 0 {
			ds = append(ds, d)
		}
	}
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// Target is the hosts rollout r waits for: AutoPromoteHosts with an
// auto-promote, else every non-stale host with room for the staged images.
func Target(r *events.Rollout) int {
	if r.AutoPromote > 0 {
		return PromoteHosts(r.AutoPromote, r.Hosts)
	}
	return max(0, r.Hosts-r.NoSpace)
}

// Estimate is the ETA of rollout r at now, from samples (its Ready count
// over time, oldest first, none after now) and the builds:
//   - done, once Target hosts hold every staged image;
//   - rate: from the hosts gained over the last window (or since the
//     first sample, when later), the time the rest takes at that rate;
//   - build: while no host holds the images, when the live builds of
//     staged images should finish, each requested at its time and taking
//     the typical duration of the finished builds;
//   - unknown otherwise, with Why naming what is missing.
func Estimate(r *events.Rollout, samples []Sample, b Builds, now time.Time, window time.Duration) events.RolloutETA {
	if window <= 0 {
		window = DefaultWindow
	}
	target := Target(r)
	eta := events.RolloutETA{Basis: events.ETAUnknown, Target: target}
	reachable := r.Hosts - r.NoSpace
	switch {
	case r.Hosts == 0:
		eta.Why = "no live host"
		return eta
	case target == 0:
		eta.Why = fmt.Sprintf("none of the %d hosts has room for the staged images", r.Hosts)
		return eta
	case r.Ready >= target:
		eta.Basis = events.ETADone
		eta.Why = fmt.Sprintf("%d of %d hosts hold every staged image", r.Ready, r.Hosts)
		if r.NoSpace > 0 {
			eta.Why += fmt.Sprintf("; %d without room get them after promotion", r.NoSpace)
		}
		return eta
	case target > reachable:
		eta.Why = fmt.Sprintf("%d hosts have no room for a staged image: at most %d can hold them, the auto-promote needs %d",
			r.NoSpace, reachable, target)
		return eta
	}
	if gain, span := gained(samples, r.Ready, now, window); gain > 0 && span > 0 {
		perSec := float64(gain) / span.Seconds()
		left := float64(target - r.Ready)
		eta.Basis = events.ETARate
		eta.At = now.Add(time.Duration(left / perSec * float64(time.Second))).Round(time.Second).UTC()
		eta.HostsPerHour = math.Round(perSec*3600*10) / 10
		eta.Why = fmt.Sprintf("%d hosts to go at the rate seen within the last %s", target-r.Ready, roundDur(window))
		return eta
	}
	if r.Ready > 0 {
		eta.Why = fmt.Sprintf("no host came to hold the staged images within the last %s", roundDur(window))
		return eta
	}
	typical := b.Typical()
	var end time.Time
	for _, at := range b.Live {
		if e := at.Add(typical); e.After(end) {
			end = e
		}
	}
	pulls := 0
	for _, sr := range r.Releases {
		pulls += sr.Pulls
	}
	switch {
	case len(b.Live) == 0 && pulls > 0:
		eta.Why = fmt.Sprintf("%d pulls of staged images in flight, no host holds them yet", pulls)
	case len(b.Live) == 0:
		eta.Why = "no build or pull of a staged image in flight"
	case typical == 0:
		eta.Why = "no finished build yet to time the staged builds by"
	case !end.After(now):
		eta.Why = fmt.Sprintf("the staged builds have run longer than the typical %s", roundDur(typical))
	default:
		eta.Basis = events.ETABuild
		eta.At = end.Round(time.Second).UTC()
		eta.TypicalBuild = events.Duration(typical)
		eta.Why = fmt.Sprintf("first hosts when the staged builds finish (typical build %s); the rest follow at a rate not known yet", roundDur(typical))
	}
	return eta
}

// gained is how many hosts were gained over the last window (or since the
// first sample) and over how long: samples are a step function.
func gained(samples []Sample, ready int, now time.Time, window time.Duration) (int, time.Duration) {
	if len(samples) == 0 {
		return 0, 0
	}
	from := now.Add(-window)
	if samples[0].At.After(from) {
		from = samples[0].At
	}
	// The count at from: the last sample at or before it.
	i := sort.Search(len(samples), func(i int) bool { return samples[i].At.After(from) }) - 1
	return ready - samples[max(i, 0)].Ready, now.Sub(from)
}

// roundDur writes d for people: whole minutes from a minute on, without
// the zero units ("10m", "1h5m", "40s").
func roundDur(d time.Duration) string {
	if d < time.Minute {
		return d.Round(time.Second).String()
	}
	s := d.Round(time.Minute).String()
	s = strings.TrimSuffix(s, "0s")
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Tracker remembers a rollout's Ready count over the recent window, to
// estimate its ETA. The zero value is ready to use; it is safe for
// concurrent use.
type Tracker struct {
	// Window is how far back the rate looks (0: DefaultWindow).
	Window time.Duration

	mu      sync.Mutex
	rev     uint64
	samples []Sample
}

// Observe records r's Ready count at now and fills in what is derived
// from the counts: AutoPromoteHosts and ETA. A new NextRevision starts a
// new memory. b is what the core knows of the builds.
func (t *Tracker) Observe(r *events.Rollout, b Builds, now time.Time) {
	if r == nil {
		return
	}
	window := t.Window
	if window <= 0 {
		window = DefaultWindow
	}
	t.mu.Lock()
	if t.rev != r.NextRevision {
		t.rev, t.samples = r.NextRevision, nil
	}
	if n := len(t.samples); n == 0 || t.samples[n-1].Ready != r.Ready {
		t.samples = append(t.samples, Sample{At: now, Ready: r.Ready})
	}
	// Keep one sample at or before the window's start: the count there.
	cut := 0
	for cut+1 < len(t.samples) && !t.samples[cut+1].At.After(now.Add(-window)) {
		cut++
	}
	t.samples = slices.Delete(t.samples, 0, cut)
	samples := slices.Clone(t.samples)
	t.mu.Unlock()
	r.AutoPromoteHosts = PromoteHosts(r.AutoPromote, r.Hosts)
	eta := Estimate(r, samples, b, now, window)
	r.ETA = &eta
}

// SameProgress compares two rollouts' progress as of now, so the readiness
// is published when it changed: every count alike, and ETAs of one basis,
// target and reason whose times differ by less than a minute or a tenth of
// the time left.
func SameProgress(a, b *events.Rollout, now time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.NextRevision == b.NextRevision && a.Hosts == b.Hosts && a.Ready == b.Ready &&
		a.AutoPromote == b.AutoPromote && slices.Equal(a.Releases, b.Releases) && a.StagedAt.Equal(b.StagedAt) &&
		slices.Equal(a.Changes, b.Changes) && a.NoSpace == b.NoSpace && a.AutoPromoteHosts == b.AutoPromoteHosts &&
		sameETA(a.ETA, b.ETA, now)
}

func sameETA(a, b *events.RolloutETA, now time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Basis != b.Basis || a.Target != b.Target || a.Why != b.Why || a.TypicalBuild != b.TypicalBuild {
		return false
	}
	d := a.At.Sub(b.At).Abs()
	return d < max(time.Minute, b.At.Sub(now)/10)
}
