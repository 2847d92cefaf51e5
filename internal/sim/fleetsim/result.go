package fleetsim

import (
	"slices"
	"time"

	"github.com/vmfleet/vmfleet/events"
)

// Result is what a run measured. Times ending in _s are fleet time in
// seconds unless named wall.
type Result struct {
	Hosts    int      `json:"hosts"`
	Releases []string `json:"releases"`
	Registry bool     `json:"registry"`
	Scale    float64  `json:"scale"`
	Bump     string   `json:"bump"`

	Converged bool `json:"converged"`
	// PruneChecked: a bump happened and every outdated image was pruned.
	PruneChecked bool `json:"prune_checked"`
	// FirstReady is when every host was first ready; BumpAt when the bump
	// was written; ReadyAfterBump how long after the bump every host was
	// ready on the new spec; ConvergedAt when the run converged.
	FirstReady     Seconds `json:"first_ready_s"`
	BumpAt         Seconds `json:"bump_at_s"`
	ReadyAfterBump Seconds `json:"ready_after_bump_s"`
	ConvergedAt    Seconds `json:"converged_at_s"`
	// Target is how soon after the bump every host should be ready:
	// registry mode queue + build + releases × pull + 2 check intervals
	// (a host pulls one image at a time); host mode releases × (queue +
	// build) + 2 check intervals (a host builds one image at a time).
	Target Seconds `json:"target_s"`
	// Wall is the run's wall-clock time.
	Wall Seconds `json:"wall_s"`

	// BuildsCreated are the builds the fake Buildkite created;
	// BuildsIdeal the build keys some host needed (one build each).
	BuildsCreated int `json:"builds_created"`
	BuildsIdeal   int `json:"builds_ideal"`
	// PullCommands are pull requests the orchestrator sent, Pulls the
	// pulls that completed on a host.
	PullCommands int `json:"pull_commands"`
	Pulls        int `json:"pulls"`
	// PruneCommands are prune requests sent; Deleted the VMs deleted;
	// PruneOutcomes counts the agents' outcomes by result.
	PruneCommands int            `json:"prune_commands"`
	Deleted       int            `json:"deleted"`
	PruneOutcomes map[string]int `json:"prune_outcomes"`

	Violations []Violation       `json:"violations"`
	Readiness  []ReadinessPoint  `json:"readiness"`
	Dropped    int               `json:"events_dropped"`
	Timings    map[string]string `json:"timings"`
}

// Result returns what the run measured so far (complete once Run returned).
func (s *Sim) Result() Result {
	s.resMu.Lock()
	r := s.res
	s.resMu.Unlock()
	r.Releases = slices.Clone(r.Releases)
	vs, pulls, deletes := s.ledger.snapshot()
	r.Violations, r.Pulls, r.Deleted = vs, pulls, deletes
	if r.Violations == nil {
		r.Violations = []Violation{}
	}
	var results map[events.PruneResult]int
	r.PullCommands, r.PruneCommands, results = s.view.counts()
	r.PruneOutcomes = map[string]int{}
	for k, n := range results {
		r.PruneOutcomes[string(k)] = n
	}
	r.Readiness = s.view.timeline()
	if r.Readiness == nil {
		r.Readiness = []ReadinessPoint{}
	}
	return r
}

// finish audits the builds against what was needed and completes the result.
func (s *Sim) finish(e *env) {
	seen := map[string]bool{}
	var keys []string
	for _, b := range e.bk.Builds() {
		if k := b.Key(); !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	created, ideal, vs := s.ledger.audit(keys, e.bk)
	for _, v := range vs {
		s.violate(v)
	}
	dropped, _ := e.sub.Dropped()
	tm := s.tm
	s.resMu.Lock()
	defer s.resMu.Unlock()
	s.res.BuildsCreated, s.res.BuildsIdeal = created, ideal
	s.res.Wall = Seconds(time.Since(s.start))
	s.res.Dropped = dropped
	s.res.Timings = map[string]string{
		"check_interval": tm.CheckInterval.String(), "heartbeat": tm.Heartbeat.String(), "tick": tm.Tick.String(),
		"build": tm.Build.String(), "queue": tm.Queue.String(), "pull": tm.Pull.String(), "delete": tm.Delete.String(),
	}
}
