package lease

import "time"

// Status says who leads, as one orchestrator knows it
// (GET /api/v1/leader, /readyz, `vmfleet status`).
type Status struct {
	// Instance is the orchestrator that answers.
	Instance string `json:"instance"`
	// IsLeader is whether it acts.
	IsLeader bool `json:"is_leader"`
	// Leader is the lease holder's id; empty when none is known (an election
	// is under way).
	Leader string `json:"leader"`
	// Since and Expires are the holder's term start and the lease's expiry
	// unless renewed (the holder's clock).
	Since   time.Time `json:"since,omitzero"`
	Expires time.Time `json:"expires,omitzero"`
}
