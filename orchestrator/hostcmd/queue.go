package hostcmd

import (
	"time"

	"github.com/vmfleet/vmfleet/orchestrator/internal/queuepos"
)

// Pending says why a key's want has no command in flight: it waits for a
// free slot under the verb's cap, or, when Group is set, under its group's
// (Verb.GroupCap) with Behind in flight in the group (Queued: Position of
// Of waiting on the same cap or group, the keys that waited longer first);
// or it backs off after Failures failures in a row until NextTry (Err: the
// last failure). A read-only view for the API and the dashboard; the
// dispatcher decides nothing from it.
type Pending struct {
	Queued   bool
	Since    time.Time // queued since
	Position int       // 1: waited longest
	Of       int
	Cap      int    // Verb.Cap, or Verb.GroupCap when Group is set
	Group    string // the full group that holds the want back
	Behind   string // the key of the group's command in flight sent first
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
	queued := map[string][]string{} // "" (the cap) or "g"+group → keys
	behind := map[string]string{}   // group → its command in flight sent first
	for k, st := range d.keys {
		if st.inFlight && st.group != "" {
			if b, ok := behind[st.group]; !ok || first(st, k, d.keys[b], b) {
				behind[st.group] = k
			}
		}
	}
	for k, st := range d.keys {
		switch {
		case st.inFlight:
		case !st.queuedSince.IsZero():
			p := Pending{Queued: true, Since: st.queuedSince, Cap: d.v.Cap, Failures: st.failures, Err: st.lastErr}
			q := ""
			if st.onGroup {
				p.Cap, p.Group, p.Behind, q = d.v.GroupCap, st.group, behind[st.group], "g"+st.group
			}
			queued[q] = append(queued[q], k)
			out[k] = p
		case now.Before(st.nextTry):
			out[k] = Pending{Failures: st.failures, NextTry: st.nextTry, Err: st.lastErr}
		}
	}
	since := func(k string) time.Time { return d.keys[k].queuedSince }
	for _, keys := range queued {
		queuepos.Number(keys, since, func(k string, pos, of int) {
			p := out[k]
			p.Position, p.Of = pos, of
			out[k] = p
		})
	}
	return out
}

// first says whether command a (key ka) went before b (key kb).
func first[W any](a *state[W], ka string, b *state[W], kb string) bool {
	if c := a.sentAt.Compare(b.sentAt); c != 0 {
		return c < 0
	}
	return ka < kb
}
