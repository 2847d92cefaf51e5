package events

import (
	"fmt"
	"time"
)

// PruneResult is the outcome for one VM.
type PruneResult string

// Prune results.
const (
	PruneDeleted PruneResult = "deleted"
	PruneSkipped PruneResult = "skipped"
	PruneFailed  PruneResult = "failed"
	// PrunePlanned is a dry run's "would delete".
	PrunePlanned PruneResult = "planned"
)

// PruneReasonGone is the reason of a skipped outcome for a requested VM
// that no longer exists: done, not a failure.
const PruneReasonGone = "already_gone"

// PruneOutcome is published on <prefix>.prune.<host>.<result>, one per VM.
type PruneOutcome struct {
	Host   string      `json:"host"`
	VM     string      `json:"vm"`
	Result PruneResult `json:"result"`
	// Reason is why it was a candidate (deleted) or the protecting rule (skipped), or the error (failed).
	Reason string    `json:"reason"`
	DryRun bool      `json:"dry_run,omitempty"`
	SizeGB int       `json:"size_gb,omitempty"`
	At     time.Time `json:"at"`
}

// Validate checks a prune outcome.
func (p PruneOutcome) Validate() error {
	switch {
	case !ValidToken(p.Host):
		return fieldErr("host", fmt.Sprintf("%q is not a host token", p.Host))
	case p.VM == "":
		return fieldErr("vm", "missing")
	}
	switch p.Result {
	case PruneDeleted, PruneSkipped, PruneFailed, PrunePlanned:
		return nil
	}
	return fieldErr("result", fmt.Sprintf("unknown result %q", p.Result))
}

// ReleaseReadiness counts hosts ready for one release.
type ReleaseReadiness struct {
	Release string `json:"release"`
	Ready   int    `json:"ready"`
	Total   int    `json:"total"`
}

// FleetReadiness is published on <prefix>.fleet.readiness when it changes.
type FleetReadiness struct {
	Hosts    int                `json:"hosts"`
	Ready    int                `json:"ready"`
	Stale    int                `json:"stale"`
	Releases []ReleaseReadiness `json:"releases"`
	// Rollout is the staged spec's progress, nil when none is staged.
	Rollout *Rollout  `json:"rollout,omitempty"`
	At      time.Time `json:"at"`
}

// Validate checks a readiness summary.
func (f FleetReadiness) Validate() error {
	if f.Hosts < 0 || f.Ready < 0 || f.Ready > f.Hosts {
		return fieldErr("ready", fmt.Sprintf("%d of %d hosts", f.Ready, f.Hosts))
	}
	return nil
}
