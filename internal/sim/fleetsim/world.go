package fleetsim

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/orchestrator/rollout"
)

// world is the spec in force (KV key current) and the staged spec (key
// next) as the simulation last wrote or saw them in KV vmfleet_spec, and
// when each image that left every active spec did so. Every delete is
// judged against it. Safe for concurrent use.
type world struct {
	mu   sync.Mutex
	spec events.Spec
	next *events.Spec // nil: no rollout in progress
	// nextRev is the last revision of key next applied (a put or a delete).
	nextRev uint64
	// until: an image that left every active spec may not be deleted
	// before then (the removal grace of the spec in force when it left).
	until map[string]time.Time
}

func (w *world) current() (events.Spec, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.spec, windowOpen(w.spec)
}

// staged is the staged spec, or nil.
func (w *world) staged() *events.Spec {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.next == nil {
		return nil
	}
	c := *w.next
	return &c
}

// rules is what a delete of name is judged by now.
func (w *world) rules(name string) rules {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := rules{spec: w.spec.Images, open: windowOpen(w.spec), graceUntil: w.until[name]}
	if w.next != nil {
		n := w.next.Images
		r.next = &n
	}
	return r
}

// set puts spec in force at (the time of the change); it tells whether the
// images in force changed.
func (w *world) set(spec events.Spec, at time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.change(spec, w.next, at)
}

// setNext stages next (nil: none) at revision rev unless a later change of
// key next was applied already.
func (w *world) setNext(next *events.Spec, rev uint64, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if rev != 0 && rev < w.nextRev {
		return
	}
	if rev != 0 {
		w.nextRev = rev
	}
	w.change(w.spec, next, at)
}

// change moves the world to (spec, next) and records the removal time of
// every image that left both (the caller holds mu). It tells whether the
// images of the spec in force changed.
func (w *world) change(spec events.Spec, next *events.Spec, at time.Time) bool {
	before := activeImages(w.spec, w.next)
	moved := !slices.Equal(currentImages(w.spec), currentImages(spec))
	w.spec, w.next = spec, next
	after := activeImages(spec, next)
	if w.until == nil {
		w.until = map[string]time.Time{}
	}
	grace := spec.Cleanup.Grace()
	for name := range before {
		if !after[name] {
			w.until[name] = at.Add(grace)
		}
	}
	for name := range after {
		delete(w.until, name)
	}
	return moved
}

// currentImages are the spec's images, in the order of its releases.
func currentImages(spec events.Spec) []string {
	out := make([]string, len(spec.Images.Releases))
	for i, r := range spec.Images.Releases {
		out[i] = spec.Images.ImageName(r)
	}
	return out
}

// activeImages are the images the spec in force and the staged spec expect.
func activeImages(spec events.Spec, next *events.Spec) map[string]bool {
	out := map[string]bool{}
	for _, r := range spec.Images.Releases {
		out[spec.Images.ImageName(r)] = true
	}
	if next != nil {
		for _, r := range next.Images.Releases {
			out[next.Images.ImageName(r)] = true
		}
	}
	return out
}

// windowOpen tells the simulation's always-open window from its closed one.
func windowOpen(spec events.Spec) bool { return slices.Equal(spec.Cleanup.Windows, openWindow) }

// openWindow is open at every instant: it opens every minute for a minute.
var openWindow = []events.Window{{Schedule: "* * * * *", Duration: events.Duration(time.Minute)}}

// closedWindow opens once a day, twelve hours from now: closed for the
// whole of any simulation.
func closedWindow(now time.Time) []events.Window {
	return []events.Window{{Schedule: fmt.Sprintf("0 %d * * *", (now.UTC().Hour()+12)%24), Duration: events.Duration(time.Hour)}}
}

// simRemovedGrace is the simulated fleet's removal grace unless
// Config.RemovedGrace sets one: a simulation measures convergence, the old
// images' prune included, and the default grace (a day) would keep every
// one of them past its end. Likewise the whole simulated fleet may be
// pruned in one window occurrence (simPruneHostsFraction): the default
// budget, a quarter of the hosts per occurrence, would spread the prune
// over minutes of the always-open window.
const (
	simRemovedGrace       = events.Duration(time.Millisecond)
	simPruneHostsFraction = 1
)

// initialSpec is the spec the orchestrator starts with.
func (c Config) initialSpec(now time.Time) events.Spec {
	grace := simRemovedGrace
	if c.RemovedGrace > 0 {
		grace = events.Duration(c.real(c.RemovedGrace, time.Millisecond))
	}
	s := events.Spec{Images: c.spec(), Cleanup: events.CleanupPolicy{KeepBunVersions: 1,
		RemovedGrace: grace, MaxPruneHostsFraction: simPruneHostsFraction}}
	if c.Chaos.On {
		// A disk filling up (chaos) is a disk emergency.
		s.Cleanup.DiskEmergencyFreeBytes = chaosDiskReserve
	}
	if c.WindowAfter == 0 {
		s.Cleanup.Windows = openWindow
	} else {
		s.Cleanup.Windows = closedWindow(now)
	}
	return s
}

// writeSpec puts spec in KV bucket vmfleet_spec as `vmfleet spec set` does;
// the orchestrator and every agent follow it. The world changes first, so
// that a delete the new spec allows is never judged by the old one.
func (s *Sim) writeSpec(ctx context.Context, e *env, spec events.Spec) (uint64, error) {
	spec.UpdatedAt, spec.UpdatedBy = time.Now().UTC(), "vmfleet demo"
	b, err := events.Encode(events.TypeSpec, "/vmfleet/fleetsim", events.SpecKey, "", time.Now(), spec)
	if err != nil {
		return 0, err
	}
	s.adopt(spec, time.Now())
	rev, err := e.kv.Put(ctx, events.SpecKey, b)
	if err != nil {
		return 0, fmt.Errorf("write spec to KV %s: %w", events.BucketSpec, err)
	}
	spec.Revision = rev
	s.adopt(spec, time.Now())
	return rev, nil
}

// adopt puts spec, which the simulation writes itself, in force in the
// world and, if its images changed, has the readiness measure judge every
// host against them from now on: no host can have reported on a change
// not yet written.
func (s *Sim) adopt(spec events.Spec, at time.Time) {
	if s.world.set(spec, at) {
		s.view.retarget(spec, s.now())
	}
}

// specFor is the spec in force at revision rev or later: the world's, read
// again from KV when the world's watch is behind.
func (s *Sim) specFor(rev uint64) events.Spec {
	if cur, _ := s.world.current(); cur.Revision >= rev {
		return cur
	}
	// No marker: this runs on consume's goroutine, which retargets itself.
	s.resync(s.runCtx(), false)
	cur, _ := s.world.current()
	return cur
}

// retargetSubject marks, in the stream of messages consume reads, the
// moment the readiness measure moves to the images in force.
const retargetSubject = "_fleetsim.retarget"

// adoptSeen puts spec, a change someone else wrote (the orchestrator's
// promotion), in force in the world at once, and has the readiness measure
// move to its images in order with the event stream: after every report
// the server had sent the simulation by then. The orchestrator promotes on
// reports it received before; judged before the simulation read the same
// reports, hosts would look not ready that are.
func (s *Sim) adoptSeen(ctx context.Context, spec events.Spec, at time.Time, marker bool) {
	if !s.world.set(spec, at) || !marker {
		return
	}
	if s.nc == nil || s.inbox == nil {
		s.view.retarget(spec, s.now())
		return
	}
	if err := s.nc.FlushTimeout(5 * time.Second); err != nil {
		s.opts.log.Warn("flush before the readiness measure moves to the new spec", "err", err)
	}
	select {
	case s.inbox <- &nats.Msg{Subject: retargetSubject}:
	case <-ctx.Done():
	}
}

// follow keeps the world in step with KV vmfleet_spec: the changes the
// orchestrator makes itself (an auto-promotion: key current written, key
// next deleted) as every agent sees them. A change the simulation wrote
// is applied once.
func (s *Sim) follow(ctx context.Context, kv jetstream.KeyValue) error {
	w, err := kv.WatchFiltered(ctx, []string{events.SpecKey, events.NextSpecKey}, jetstream.UpdatesOnly())
	if err != nil {
		return fmt.Errorf("watch KV %s: %w", events.BucketSpec, err)
	}
	bus.Follow(ctx, w, func(e jetstream.KeyValueEntry) { s.apply(ctx, e, true) })
	return nil
}

// apply takes one change of key current or next into the world; with
// marker, a change of the images in force moves the readiness measure in
// order with the event stream (adoptSeen).
func (s *Sim) apply(ctx context.Context, e jetstream.KeyValueEntry, marker bool) {
	put := e.Operation() == jetstream.KeyValuePut
	switch e.Key() {
	case events.SpecKey:
		if !put {
			return
		}
		spec, err := rollout.DecodeSpec(e.Value())
		if err != nil {
			return
		}
		spec.Revision = e.Revision()
		if cur, _ := s.world.current(); cur.Revision < spec.Revision {
			s.adoptSeen(ctx, spec, e.Created(), marker)
		}
	case events.NextSpecKey:
		if !put {
			s.world.setNext(nil, e.Revision(), e.Created())
			return
		}
		spec, err := rollout.DecodeSpec(e.Value())
		if err != nil {
			return
		}
		spec.Revision = e.Revision()
		s.world.setNext(&spec, e.Revision(), e.Created())
	}
}

// resync reads keys current and next from KV into the world (marker: as
// apply): a delete that the world forbids, or a report checked against a
// revision the world does not know, may only mean its watch is behind a
// change the agents already saw.
func (s *Sim) resync(ctx context.Context, marker bool) {
	kv := s.kv.Load()
	if kv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, key := range []string{events.SpecKey, events.NextSpecKey} {
		e, err := (*kv).Get(ctx, key)
		switch {
		case err == nil:
			s.apply(ctx, e, marker)
		case errors.Is(err, jetstream.ErrKeyNotFound) && key == events.NextSpecKey:
			if st := s.world.staged(); st != nil {
				// Deleted at an instant the Get does not tell. A
				// promotion removes no image (the staged ones are
				// current); after an abandoned rollout the grace would
				// be judged from now, later than the agents judge it.
				s.world.setNext(nil, 0, time.Now())
			}
		}
	}
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
