package prunes

import (
	"sync/atomic"
	"time"

	"github.com/vmfleet/vmfleet/events"
)

// History is the spec keys' history as last read, and what prune plans
// take from it: the staged spec and the images in their removal grace.
type History struct {
	Hist []events.SpecRevision
	Rev  uint64            // the last revision in Hist
	Next *events.ImageSpec // the staged spec (key next), nil when none
	// ret caches events.Retained(hist, now) over the span it cannot change.
	ret atomic.Pointer[Retained]
}

// Retained is events.Retained over a span [from, until) of the clock where
// it holds: entries only drop out (when the clock reaches their Until), so a
// set computed at from holds until its earliest Until.
type Retained struct {
	Imgs        []events.RetainedImages
	from, until time.Time // until zero: the (empty) set holds from then on
}

// RetainedAt returns the images in their removal grace at now, computed
// again only when now left the span the last set holds over. The pointer is
// the same while the set is: plans cached with it stay valid.
func (h *History) RetainedAt(now time.Time) *Retained {
	if r := h.ret.Load(); r != nil && !now.Before(r.from) && (r.until.IsZero() || now.Before(r.until)) {
		return r
	}
	r := &Retained{Imgs: events.Retained(h.Hist, now), from: now}
	for _, ri := range r.Imgs {
		if r.until.IsZero() || ri.Until.Before(r.until) {
			r.until = ri.Until
		}
	}
	h.ret.Store(r)
	return r
}

// NewHistory is the history hist as read.
func NewHistory(hist []events.SpecRevision) *History {
	h := &History{Hist: hist}
	for _, r := range hist {
		h.Rev = max(h.Rev, r.Revision)
	}
	if s := events.Latest(hist, events.NextSpecKey); s != nil {
		h.Next = &s.Images
	}
	return h
}
