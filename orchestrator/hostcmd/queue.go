package hostcmd

import (
	"slices"
	"strings"
	"time"
)

// Pending says why a key's want has no command in flight: it waits for a
// free slot under the verb's cap (Queued: Position of Of, the keys that
// waited longer first), or it backs off after Failures failures in a row
// until NextTry (Err: the last failure). A read-only view for the API and
// the dashboard; the dispatcher decides nothing from it.
type Pending struct {
	Queued   bool
	Since    time.Time // queued since
	Position int       // 1: waited longest
	Of       int
	Cap      int
	Failures int
	NextTry  time.Time
	Err      string
}

// Pending returns, keyed like the verb's keys, every key whose want waits
// for a free slot (as of the last pass) or backs off at now.
func (d *Dispatcher[W, R]) Pending(now time.Time) map[string]Pending {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]Pending{}
	var queued []string
	for k, st := range d.keys {
		switch {
		case st.inFlight:
		case !st.queuedSince.IsZero():
			queued = append(queued, k)
			out[k] = Pending{Queued: true, Since: st.queuedSince, Cap: d.v.Cap, Failures: st.failures, Err: st.lastErr}
		case now.Before(st.nextTry):
			out[k] = Pending{Failures: st.failures, NextTry: st.nextTry, Err: st.lastErr}
		}
	}
	slices.SortFunc(queued, func(a, b string) int {
		if c := d.keys[a].queuedSince.Compare(d.keys[b].queuedSince); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	for i, k := range queued {
		p := out[k]
		p.Position, p.Of = i+1, len(queued)
		out[k] = p
	}
	return out
}
