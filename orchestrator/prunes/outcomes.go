package prunes

import (
	"slices"
	"sync"

	"github.com/vmfleet/vmfleet/events"
)

// Sizes of the recent prune outcome logs.
const (
	RecentPerHost = 32
	RecentFleet   = 256
)

// OutcomeLog keeps the latest prune outcomes, fleet-wide and per host, in
// ring buffers (since this orchestrator started).
type OutcomeLog struct {
	mu     sync.Mutex
	fleet  ring
	byHost map[string]*ring
}

type ring struct {
	buf  []events.PruneOutcome
	next int
	size int
}

func (r *ring) add(o events.PruneOutcome) {
	if len(r.buf) < r.size {
		r.buf = append(r.buf, o)
		return
	}
	r.buf[r.next] = o
	r.next = (r.next + 1) % r.size
}

// list returns the outcomes, newest first.
func (r *ring) list() []events.PruneOutcome {
	out := make([]events.PruneOutcome, 0, len(r.buf))
	out = append(out, r.buf[r.next:]...)
	out = append(out, r.buf[:r.next]...)
	slices.Reverse(out)
	return out
}

// NewOutcomeLog returns an empty log.
func NewOutcomeLog() *OutcomeLog {
	return &OutcomeLog{fleet: ring{size: RecentFleet}, byHost: map[string]*ring{}}
}

// Add records an outcome.
func (l *OutcomeLog) Add(o events.PruneOutcome) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fleet.add(o)
	r := l.byHost[o.Host]
	if r == nil {
		r = &ring{size: RecentPerHost}
		l.byHost[o.Host] = r
	}
	r.add(o)
}

// Host returns the host's outcomes, newest first (nil: none).
func (l *OutcomeLog) Host(host string) []events.PruneOutcome {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r := l.byHost[host]; r != nil {
		return r.list()
	}
	return nil
}

// All returns the fleet's outcomes, newest first.
func (l *OutcomeLog) All() []events.PruneOutcome {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fleet.list()
}
