package rollout

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmfleet/vmfleet/events"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func TestPromoteHosts(t *testing.T) {
	for _, tt := range []struct {
		share float64
		hosts int
		want  int
	}{
		{0.9, 10, 9}, {0.9, 11, 10}, {0.07, 100, 7}, {0.07, 600, 42}, {0.5, 3, 2}, {1, 5, 5}, {0.01, 5, 1}, {0, 5, 0}, {0.9, 0, 0}, {0.7, 10, 7},
	} {
		if got := PromoteHosts(tt.share, tt.hosts); got != tt.want {
			t.Errorf("Got(PromoteHosts(%v, %d)) = %d, want %d", tt.share, tt.hosts, got, tt.want)
		}
	}
}

func TestChanges(t *testing.T) {
	cur := testImages()
	next := cur
	next.BootstrapVersion, next.Releases = "3.7", []string{"14", "15"}
	want := []events.SpecFieldChange{
		{Field: "releases", From: strings.Join(cur.Releases, ","), To: "14,15"},
		{Field: "bootstrap", From: cur.BootstrapVersion, To: "3.7"},
	}
	if diff := cmp.Diff(want, Changes(cur, next)); diff != "" {
		t.Errorf("Got(Changes) diff (-want +got):\n%s", diff)
	}
	blank := cur
	blank.NameTemplate = ""
	if got := Changes(cur, blank); got != nil {
		t.Errorf("Got(Changes with the default template spelled out) = %v, want none", got)
	}
}

func TestRoundDur(t *testing.T) {
	for d, want := range map[time.Duration]string{10 * time.Minute: "10m", 65 * time.Minute: "1h5m", 2 * time.Hour: "2h",
		40*time.Second + 300*time.Millisecond: "40s", 41*time.Minute + 20*time.Second: "41m"} {
		if got := roundDur(d); got != want {
			t.Errorf("Got(roundDur(%s)) = %q, want %q", d, got, want)
		}
	}
}

func TestBuildsTypical(t *testing.T) {
	if got := (Builds{}).Typical(); got != 0 {
		t.Errorf("Got(typical of no build) = %s, want 0", got)
	}
	b := Builds{Durations: []time.Duration{50 * time.Minute, 0, 30 * time.Minute, 40 * time.Minute}}
	if got := b.Typical(); got != 40*time.Minute {
		t.Errorf("Got(typical) = %s, want the median 40m (0 ignored)", got)
	}
}

// rollout10 is a rollout of one release over 10 hosts, ready of them done.
func rollout10(ready int) *events.Rollout {
	return &events.Rollout{NextRevision: 7, Hosts: 10, Ready: ready,
		Releases: []events.StagedReadiness{{Release: "14", Image: "img", Ready: ready, Total: 10}}}
}

func TestEstimate(t *testing.T) {
	live := Builds{Live: []time.Time{t0, t0.Add(5 * time.Minute)}, Durations: []time.Duration{30 * time.Minute, 40 * time.Minute, 50 * time.Minute}}
	tests := []struct {
		name    string
		r       *events.Rollout
		samples []Sample
		b       Builds
		now     time.Time
		want    events.RolloutETA
		why     string
	}{
		{name: "no host", r: &events.Rollout{}, now: t0,
			want: events.RolloutETA{Basis: events.ETAUnknown}, why: "no live host"},
		{name: "done by hand: every host with room", r: func() *events.Rollout { r := rollout10(8); r.NoSpace = 2; return r }(), now: t0,
			want: events.RolloutETA{Basis: events.ETADone, Target: 8}, why: "2 without room"},
		{name: "done for the auto-promote", r: func() *events.Rollout { r := rollout10(9); r.AutoPromote = 0.9; return r }(), now: t0,
			want: events.RolloutETA{Basis: events.ETADone, Target: 9}, why: "9 of 10 hosts"},
		{name: "every host without room", r: func() *events.Rollout { r := rollout10(0); r.NoSpace = 10; return r }(), now: t0,
			want: events.RolloutETA{Basis: events.ETAUnknown}, why: "none of the 10 hosts has room"},
		{name: "auto-promote out of reach", r: func() *events.Rollout { r := rollout10(5); r.AutoPromote = 0.9; r.NoSpace = 3; return r }(), now: t0,
			want: events.RolloutETA{Basis: events.ETAUnknown, Target: 9}, why: "at most 7 can hold them, the auto-promote needs 9"},
		{name: "rate: 4 hosts in 2 minutes, 6 to go", r: rollout10(4), now: t0.Add(2 * time.Minute),
			samples: []Sample{{t0, 0}, {t0.Add(time.Minute), 2}, {t0.Add(2 * time.Minute), 4}},
			want:    events.RolloutETA{Basis: events.ETARate, Target: 10, At: t0.Add(5 * time.Minute), HostsPerHour: 120}, why: "6 hosts to go"},
		{name: "rate over the window only: 2 hosts in the last 10 minutes", r: rollout10(4), now: t0.Add(20 * time.Minute),
			samples: []Sample{{t0, 0}, {t0.Add(time.Minute), 2}, {t0.Add(15 * time.Minute), 4}},
			want:    events.RolloutETA{Basis: events.ETARate, Target: 10, At: t0.Add(50 * time.Minute), HostsPerHour: 12}},
		{name: "no gain within the window", r: rollout10(4), now: t0.Add(30 * time.Minute),
			samples: []Sample{{t0, 0}, {t0.Add(15 * time.Minute), 4}},
			want:    events.RolloutETA{Basis: events.ETAUnknown, Target: 10}, why: "no host came to hold"},
		{name: "a host lost: no rate", r: rollout10(3), now: t0.Add(2 * time.Minute),
			samples: []Sample{{t0, 4}, {t0.Add(time.Minute), 3}},
			want:    events.RolloutETA{Basis: events.ETAUnknown, Target: 10}},
		{name: "build: the last staged build ends at its typical duration", r: rollout10(0), b: live, now: t0.Add(10 * time.Minute),
			samples: []Sample{{t0, 0}},
			want:    events.RolloutETA{Basis: events.ETABuild, Target: 10, At: t0.Add(45 * time.Minute), TypicalBuild: events.Duration(40 * time.Minute)},
			why:     "typical build 40m"},
		{name: "build past its typical duration", r: rollout10(0), b: live, now: t0.Add(46 * time.Minute),
			want: events.RolloutETA{Basis: events.ETAUnknown, Target: 10}, why: "longer than the typical 40m"},
		{name: "build with no finished build to time it by", r: rollout10(0), b: Builds{Live: live.Live}, now: t0,
			want: events.RolloutETA{Basis: events.ETAUnknown, Target: 10}, why: "no finished build"},
		{name: "pulls only", r: func() *events.Rollout { r := rollout10(0); r.Releases[0].Pulls = 3; return r }(), now: t0,
			want: events.RolloutETA{Basis: events.ETAUnknown, Target: 10}, why: "3 pulls of staged images in flight"},
		{name: "nothing in flight", r: rollout10(0), b: Builds{Durations: live.Durations}, now: t0,
			want: events.RolloutETA{Basis: events.ETAUnknown, Target: 10}, why: "no build or pull"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Estimate(tt.r, tt.samples, tt.b, tt.now, 0)
			if !strings.Contains(got.Why, tt.why) || got.Why == "" {
				t.Errorf("Got(why) = %q, want it to say %q", got.Why, tt.why)
			}
			got.Why = ""
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Got(Estimate) diff (-want +got):\n%s", diff)
			}
		})
	}
}

// The tracker, driven by a clock the test moves: the ETA follows the rate
// of the recent window, forgets what lies before it, and starts again
// with a new staged revision.
func TestTracker(t *testing.T) {
	var tr Tracker
	now := t0
	observe := func(r *events.Rollout) events.RolloutETA {
		t.Helper()
		tr.Observe(r, Builds{}, now)
		if r.ETA == nil {
			t.Fatal("Got(ETA) = nil, want one")
		}
		return *r.ETA
	}
	if got := observe(rollout10(0)); got.Basis != events.ETAUnknown {
		t.Errorf("Got(ETA at the start) = %+v, want unknown", got)
	}
	// One host a minute for five minutes: five to go, five minutes.
	for i := 1; i <= 5; i++ {
		now = now.Add(time.Minute)
		observe(rollout10(i))
		now = now.Add(30 * time.Second) // passes that see no change
		observe(rollout10(i))
		now = now.Add(-30 * time.Second)
	}
	if got := observe(rollout10(5)); got.Basis != events.ETARate || !got.At.Equal(now.Add(5*time.Minute)) || got.HostsPerHour != 60 {
		t.Errorf("Got(ETA after 5 hosts in 5m) = %+v, want rate 60/h, at %s", got, now.Add(5*time.Minute))
	}
	if n := len(tr.samples); n != 6 {
		t.Errorf("Got(samples) = %d, want 6 (one per change)", n)
	}
	// Quiet for a whole window: no basis left, and the memory shrinks to
	// the count at the window's start.
	now = now.Add(DefaultWindow)
	if got := observe(rollout10(5)); got.Basis != events.ETAUnknown {
		t.Errorf("Got(ETA after a quiet window) = %+v, want unknown", got)
	}
	if n := len(tr.samples); n != 1 {
		t.Errorf("Got(samples after a quiet window) = %d, want 1", n)
	}
	// Auto-promote at 70%: the threshold in hosts, and the ETA to it.
	r := rollout10(6)
	r.AutoPromote = 0.7
	now = now.Add(time.Minute)
	got := observe(r)
	if r.AutoPromoteHosts != 7 || got.Target != 7 || got.Basis != events.ETARate {
		t.Errorf("Got(auto-promote 70%% of 10) = %d hosts, ETA %+v, want 7 hosts, a rate ETA to 7", r.AutoPromoteHosts, got)
	}
	// A new staged revision forgets the old one's counts.
	r = rollout10(6)
	r.NextRevision = 8
	now = now.Add(time.Minute)
	if got := observe(r); got.Basis != events.ETAUnknown || len(tr.samples) != 1 {
		t.Errorf("Got(ETA of a new revision) = %+v with %d samples, want unknown from 1 sample", got, len(tr.samples))
	}
	tr.Observe(nil, Builds{}, now) // no rollout: nothing to do
}

func TestSameProgress(t *testing.T) {
	eta := func(at time.Time) *events.Rollout {
		r := rollout10(4)
		r.ETA = &events.RolloutETA{Basis: events.ETARate, Target: 10, At: at, Why: "w"}
		return r
	}
	if !SameProgress(nil, nil, t0) || SameProgress(nil, rollout10(0), t0) {
		t.Error("Got(SameProgress with nil) wrong")
	}
	if !SameProgress(eta(t0.Add(time.Hour)), eta(t0.Add(time.Hour+5*time.Minute)), t0) {
		t.Error("Got(ETAs 5m apart, an hour out) = different, want the same (within a tenth of the time left)")
	}
	if SameProgress(eta(t0.Add(time.Hour)), eta(t0.Add(time.Hour+7*time.Minute)), t0) {
		t.Error("Got(ETAs 7m apart, an hour out) = same, want different")
	}
	if !SameProgress(eta(t0.Add(2*time.Minute)), eta(t0.Add(2*time.Minute+50*time.Second)), t0) {
		t.Error("Got(ETAs 50s apart) = different, want the same (within a minute)")
	}
	a, b := eta(t0), eta(t0)
	b.NoSpace = 1
	if SameProgress(a, b, t0) {
		t.Error("Got(no_space changed) = same, want different")
	}
	b = eta(t0)
	b.ETA.Basis = events.ETABuild
	if SameProgress(a, b, t0) {
		t.Error("Got(basis changed) = same, want different")
	}
}
