package hosts

import (
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/internal/orchtest"
)

var (
	t0     = orchtest.T0
	health = orchtest.Health
	encode = orchtest.Encode
)

// newTestFleet is a fleet of cfg (the defaults: 3-heartbeat staleness, a
// 1 m default heartbeat), without metrics or NATS.
func newTestFleet(subj events.Subjects, cfg Config) *Fleet {
	f, err := New(subj, cfg, Deps{})
	if err != nil {
		panic(err)
	}
	return f
}
