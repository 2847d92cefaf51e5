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
	// Rollout is how the bump was written: immediate (key current, as
	// `vmfleet spec set`) or staged (key next with auto-promote at 100%,
	// as `vmfleet spec stage --auto-promote 100%`).
	Rollout string `json:"rollout"`

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
	// PromotedAfterBump is how long after a staged bump the simulation saw
	// the orchestrator promote it (0: immediate); ConvergedAfterBump how
	// long after the bump the run converged.
	PromotedAfterBump  Seconds `json:"promoted_after_bump_s"`
	ConvergedAfterBump Seconds `json:"converged_after_bump_s"`

	// From the bump to the end of the run (convergence), as the event
	// stream shows each host's last report: a host is ready for the spec
	// in force when it reports every release's image of that spec checked
	// ready (among the statuses of the spec it checked against, or of the
	// staged spec: after a promotion, until the host checks again, the
	// promoted images are its staged ones). MinReadyHosts is the fewest
	// hosts ready at any instant (MinReadyFraction of Hosts);
	// OutageSeconds the fleet time during which some release of the spec
	// in force had no ready host, so its jobs had nowhere to run;
	// NotReadyHostSeconds the fleet time summed over hosts not ready.
	MinReadyHosts       int     `json:"min_ready_hosts"`
	MinReadyFraction    float64 `json:"min_ready_fraction"`
	OutageSeconds       Seconds `json:"outage_seconds"`
	NotReadyHostSeconds Seconds `json:"not_ready_host_seconds"`
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

	Cost

	// AgentConns are the NATS connections the simulated agents ran on,
	// AgentsPerConn agents on each (Config.AgentsPerConn).
	AgentConns    int `json:"agent_conns"`
	AgentsPerConn int `json:"agents_per_conn"`

	// ChaosResult is what the chaos did and how the fleet healed (nil
	// without chaos; its fields are at the top level of the JSON).
	*ChaosResult

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

// endTrack stops the readiness measure at fleet time at and records it.
func (s *Sim) endTrack(at time.Duration) {
	t := s.view.stopTrack(at)
	if !t.started {
		return
	}
	s.resMu.Lock()
	defer s.resMu.Unlock()
	s.res.MinReadyHosts = t.min
	s.res.MinReadyFraction = float64(t.min) / float64(s.cfg.Hosts)
	s.res.OutageSeconds, s.res.NotReadyHostSeconds = Seconds(t.outage), Seconds(t.notReady)
}

// finish audits the builds against what was needed and completes the result.
func (s *Sim) finish(e *env) {
	s.endTrack(s.now())
	seen := map[string]bool{}
	var keys []string
	for _, b := range e.bk.Builds() {
		if k := b.Key(); !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	created, ideal, vs := s.ledger.audit(keys, e.bk, s.chaos.retried())
	for _, v := range vs {
		s.violate(v)
	}
	s.chaos.leftBehind()
	chaos := s.chaos.result(created, ideal)
	dropped, _ := e.sub.Dropped()
	cost := s.cost(e, s.cpu0)
	tm := s.tm
	s.resMu.Lock()
	defer s.resMu.Unlock()
	s.res.BuildsCreated, s.res.BuildsIdeal = created, ideal
	s.res.Wall = Seconds(time.Since(s.start))
	s.res.Dropped = dropped
	s.res.Cost = cost
	s.res.ChaosResult = chaos
	s.res.Timings = map[string]string{
		"check_interval": tm.CheckInterval.String(), "heartbeat": tm.Heartbeat.String(), "tick": tm.Tick.String(),
		"build": tm.Build.String(), "queue": tm.Queue.String(), "pull": tm.Pull.String(), "delete": tm.Delete.String(),
	}
}
