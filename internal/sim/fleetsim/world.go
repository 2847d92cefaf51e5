package fleetsim

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vmfleet/vmfleet/events"
)

// world is the spec in force as the simulation last wrote it, and whether
// a cleanup window is open. Safe for concurrent use.
type world struct {
	mu   sync.Mutex
	spec events.Spec
	open bool
}

func (w *world) current() (events.Spec, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.spec, w.open
}

func (w *world) set(spec events.Spec, open bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.spec, w.open = spec, open
}

// openWindow is open at every instant: it opens every minute for a minute.
var openWindow = []events.Window{{Schedule: "* * * * *", Duration: events.Duration(time.Minute)}}

// closedWindow opens once a day, twelve hours from now: closed for the
// whole of any simulation.
func closedWindow(now time.Time) []events.Window {
	return []events.Window{{Schedule: fmt.Sprintf("0 %d * * *", (now.UTC().Hour()+12)%24), Duration: events.Duration(time.Hour)}}
}

// simRemovedGrace is the simulated fleet's removal grace: a simulation
// measures convergence, the old images' prune included, and the default
// grace (a day) would keep every one of them past its end. Likewise the
// whole simulated fleet may be pruned in one window occurrence
// (simPruneHostsFraction): the default budget, a quarter of the hosts per
// occurrence, would spread the prune over minutes of the always-open window.
const (
	simRemovedGrace       = events.Duration(time.Millisecond)
	simPruneHostsFraction = 1
)

// initialSpec is the spec the orchestrator starts with.
func (c Config) initialSpec(now time.Time) (events.Spec, bool) {
	s := events.Spec{Images: c.spec(), Cleanup: events.CleanupPolicy{KeepBunVersions: 1,
		RemovedGrace: simRemovedGrace, MaxPruneHostsFraction: simPruneHostsFraction}}
	open := c.WindowAfter == 0
	if open {
		s.Cleanup.Windows = openWindow
	} else {
		s.Cleanup.Windows = closedWindow(now)
	}
	return s, open
}

// writeSpec puts spec in KV bucket vmfleet_spec as `vmfleet spec set` does;
// the orchestrator and every agent follow it. The world changes first, so
// that a delete the new spec allows is never judged by the old one.
func (s *Sim) writeSpec(ctx context.Context, e *env, spec events.Spec, open bool) (uint64, error) {
	spec.UpdatedAt, spec.UpdatedBy = time.Now().UTC(), "vmfleet demo"
	b, err := events.Encode(events.TypeSpec, "/vmfleet/fleetsim", events.SpecKey, "", time.Now(), spec)
	if err != nil {
		return 0, err
	}
	s.world.set(spec, open)
	rev, err := e.kv.Put(ctx, events.SpecKey, b)
	if err != nil {
		return 0, fmt.Errorf("write spec to KV %s: %w", events.BucketSpec, err)
	}
	spec.Revision = rev
	s.world.set(spec, open)
	return rev, nil
}

// nextVersion moves the last number of a dotted version on: 3.6 → 3.7,
// 1.2.16 → 1.2.17; a version without a final number gets ".1".
func nextVersion(v string) string {
	i := strings.LastIndexByte(v, '.')
	n, err := strconv.Atoi(v[i+1:])
	if err != nil {
		return v + ".1"
	}
	return v[:i+1] + strconv.Itoa(n+1)
}
