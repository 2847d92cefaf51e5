package fleetsim

import (
	"sort"
	"sync"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
)

// Violation kinds: each is a broken invariant of docs/orchestrator.md
// (Builds, Cleanup).
const (
	// VDuplicateBuild: more builds created for one key than it needed (every
	// simulated build passes, so one per key is enough).
	VDuplicateBuild = "duplicate_build"
	// VTwoLiveBuilds: two builds for one key live at once.
	VTwoLiveBuilds = "two_live_builds"
	// VUnneededBuild: a build for a key no host needed.
	VUnneededBuild = "unneeded_build"
	// VPullNotPushed: a pull of an image no build had pushed yet.
	VPullNotPushed = "pull_not_pushed"
	// VDeletedBusy, VDeletedExpected (an image of the spec in force or of
	// the staged spec), VDeletedNotOurs, VDeletedNotLocal,
	// VDeletedBeforeReplacement, VDeletedOutsideWindow, VDeletedWithinGrace
	// (less than the removal grace after the image left every active
	// spec): a delete that the cleanup rules forbid, judged when it
	// happened.
	VDeletedBusy              = "deleted_busy"
	VDeletedExpected          = "deleted_expected"
	VDeletedNotOurs           = "deleted_not_ours"
	VDeletedNotLocal          = "deleted_not_local"
	VDeletedBeforeReplacement = "deleted_before_replacement"
	VDeletedOutsideWindow     = "deleted_outside_window"
	VDeletedWithinGrace       = "deleted_within_grace"
)

// Violation is one broken invariant.
type Violation struct {
	Kind   string `json:"kind"`
	Host   string `json:"host,omitempty"`
	Key    string `json:"key,omitempty"`
	VM     string `json:"vm,omitempty"`
	Detail string `json:"detail"`
	// At is the fleet time since the start.
	At Seconds `json:"at_s"`
}

// ledger is the safety accounting: what each host needed, and everything
// that broke a rule. Safe for concurrent use.
type ledger struct {
	mu         sync.Mutex
	needed     map[string]bool // build keys some host needed
	violations []Violation
	pulls      int // completed pulls (clones of a reference)
	deletes    int // completed deletes
}

func (l *ledger) violate(at time.Duration, v Violation) {
	v.At = Seconds(at)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.violations = append(l.violations, v)
}

func (l *ledger) need(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.needed == nil {
		l.needed = map[string]bool{}
	}
	l.needed[key] = true
}

// pulled adds n (-1: a pull counted beforehand failed) to the pulls.
func (l *ledger) pulled(n int) {
	l.mu.Lock()
	l.pulls += n
	l.mu.Unlock()
}

// deleted adds n (-1: a delete counted beforehand failed) to the deletes.
func (l *ledger) deleted(n int) {
	l.mu.Lock()
	l.deletes += n
	l.mu.Unlock()
}

// needKeys records the build keys the hosts need under spec: in registry
// mode one per image the fleet lacks, else one per image and host lacking it.
func (l *ledger) needKeys(spec events.ImageSpec, hosts []*simHost) int {
	n := 0
	seen := map[string]bool{}
	for _, h := range hosts {
		for _, r := range spec.Releases {
			img := spec.ImageName(r)
			if h.fake.Has(img) {
				continue
			}
			key := builds.RecordKey(img, h.token)
			if spec.Registry != "" {
				key = builds.RecordKey(img, "")
			}
			if !seen[key] {
				seen[key] = true
				l.need(key)
				n++
			}
		}
	}
	return n
}

// buildCounter is what the ledger reads of the fake Buildkite.
type buildCounter interface {
	CreatedCount(key string) int
	MaxLiveCount(key string) int
}

// audit checks the builds created, per key, against what was needed; retried
// are the builds of a key that the chaos failed (each needs one more). It
// returns the violations found (the caller records them).
func (l *ledger) audit(keys []string, bk buildCounter, retried map[string]int) (created, ideal int, out []Violation) {
	l.mu.Lock()
	needed := make(map[string]bool, len(l.needed))
	for k := range l.needed {
		needed[k] = true
	}
	l.mu.Unlock()
	sort.Strings(keys)
	for _, k := range keys {
		n := bk.CreatedCount(k)
		created += n
		switch {
		case !needed[k]:
			out = append(out, Violation{Kind: VUnneededBuild, Key: k, Detail: "no host needed this image"})
		case n > 1+retried[k] && retried[k] > 0:
			out = append(out, Violation{Kind: VDuplicateBuild, Key: k, Detail: itoa(n) + " builds created, " + itoa(retried[k]) + " failed by the chaos: " + itoa(1+retried[k]) + " were enough"})
		case n > 1+retried[k]:
			out = append(out, Violation{Kind: VDuplicateBuild, Key: k, Detail: itoa(n) + " builds created, every build passes: 1 was enough"})
		}
		if m := bk.MaxLiveCount(k); m > 1 {
			out = append(out, Violation{Kind: VTwoLiveBuilds, Key: k, Detail: itoa(m) + " builds live at once"})
		}
	}
	return created, len(needed), out
}

func (l *ledger) snapshot() (violations []Violation, pulls, deletes int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Violation(nil), l.violations...), l.pulls, l.deletes
}
