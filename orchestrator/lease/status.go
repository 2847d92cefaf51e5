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

// StatusOf is who leads as the orchestrator instance knows it: the holder
// of lease l, or itself when it leads without a lease (l nil: leadership
// set by hand, as a lone orchestrator or a test does).
func StatusOf(l *Lease, instance string, leading bool) Status {
	s := Status{Instance: instance, IsLeader: leading}
	if l != nil {
		if v, ok := l.Leader(); ok {
			s.Leader, s.Since, s.Expires = v.ID, v.Since, v.Deadline
		}
	} else if leading {
		s.Leader = instance
	}
	return s
}
