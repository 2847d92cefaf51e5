package events

import (
	"fmt"
	"time"
)

// TypeTagDrift is the CloudEvents type of a TagDrift.
const TypeTagDrift = "dev.vmfleet.fleet.drift.v1"

// KindDrift is the family of <prefix>.fleet.drift.
const KindDrift Kind = "fleet.drift"

// DriftReason says how a host's Buildkite agents disagree with the tags the
// host reports.
type DriftReason string

// Drift reasons.
const (
	// DriftTagsDiffer: a connected, idle agent of the host lacks a tag the
	// host reports, or carries a vmfleet tag the host does not report.
	DriftTagsDiffer DriftReason = "tags_differ"
	// DriftNoAgent: the host reports tags but Buildkite lists no agent for it.
	DriftNoAgent DriftReason = "no_agent"
)

// Valid reports whether r is a known drift reason.
func (r DriftReason) Valid() bool { return r == DriftTagsDiffer || r == DriftNoAgent }

// TagDrift is published by the orchestrator on <prefix>.fleet.drift (CloudEvents
// subject: the host) when a host's Buildkite agent tags have disagreed with
// the tags the host reports for longer than the grace period (Drift true), and
// again when they agree once more or the host is no longer checked (Drift false).
type TagDrift struct {
	Host string `json:"host"`
	// Drift is true when the disagreement is flagged, false when it ended.
	Drift bool `json:"drift"`
	// Since is when the disagreement was first seen.
	Since  time.Time   `json:"since"`
	Reason DriftReason `json:"reason"`
	// Reported are the tags the host reports (HostHealth.BuildkiteTags).
	Reported []string `json:"reported,omitempty"`
	// Buildkite are the tags of the first disagreeing agent, as Buildkite lists them.
	Buildkite []string `json:"buildkite,omitempty"`
	// Agents are the names of the host's agents in Buildkite.
	Agents []string  `json:"agents,omitempty"`
	At     time.Time `json:"at"`
}

// Validate checks a drift event.
func (d TagDrift) Validate() error {
	switch {
	case !ValidToken(d.Host):
		return fieldErr("host", fmt.Sprintf("%q is not a host token", d.Host))
	case !d.Reason.Valid():
		return fieldErr("reason", fmt.Sprintf("unknown reason %q", d.Reason))
	case d.Since.IsZero():
		return fieldErr("since", "missing")
	}
	return nil
}

// Drift is <prefix>.fleet.drift.
func (s Subjects) Drift() string { return s.p() + ".fleet.drift" }
