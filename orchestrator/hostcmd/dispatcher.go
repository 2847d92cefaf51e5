package hostcmd

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrHostRestarted ends a command in flight when a want for its key comes
// from a later boot of the host: the agent it went to is gone and will
// never reply. It is not a failure: the key is free at once, without a
// backoff or a wait.
var ErrHostRestarted = errors.New("the host restarted while the command was in flight")

// Report names one health report of a host: its boot id and sequence number.
type Report struct {
	Boot string
	Seq  uint64
}

// Wait holds a key's next command back until the host reported past the
// last command's effect: a report of boot Boot needs a sequence number of at
// least Seq; a report of another boot is past it. The zero Wait holds
// nothing.
type Wait struct {
	Boot string
	Seq  uint64
}

// AtOrAfter waits for r or a later report of its boot (r is the check the
// agent made right after the command, as its reply names it).
func AtOrAfter(r Report) Wait { return Wait(r) }

// After waits for a report of r's boot later than r (r is the last report
// that may still show the state before the command).
func After(r Report) Wait { return Wait{Boot: r.Boot, Seq: r.Seq + 1} }

// Holds says whether the wait holds a command derived from report r back.
func (w Wait) Holds(r Report) bool { return w.Boot != "" && r.Boot == w.Boot && r.Seq < w.Seq }

// Outcome is what a finished command means for its key.
type Outcome struct {
	// Failure says why the command failed, "" when it succeeded. A failure
	// starts (or lengthens) the key's backoff; a success ends it.
	Failure string
	// Wait, when SetWait, replaces the key's wait for a report.
	Wait    Wait
	SetWait bool
}

// Verb is one command verb's part in a Dispatcher. W is what a pass wants
// sent (one command to one host), R the command's result.
type Verb[W, R any] struct {
	// Cap is the most commands Dispatch keeps in flight fleet-wide.
	Cap int
	// Backoff is the pause before a key's next command after its n-th
	// failure in a row.
	Backoff func(failures int) time.Duration
	// Now is the clock.
	Now func() time.Time
	// Key names the bookkeeping a want belongs to: a host, or a host and
	// what the command is about. At most one command per key is in flight.
	Key func(W) string
	// From is the host's report the want was derived from.
	From func(W) Report
	// Send sends the command the want asks for and waits for the reply.
	Send func(ctx context.Context, w W) (R, error)
	// Finish says what a finished command means for its key. It is called
	// after the reply, without the dispatcher's lock.
	Finish func(w W, res R, err error) Outcome
	// Done, when set, is called once the key's bookkeeping has been
	// updated, without the dispatcher's lock; retryAt is the end of the
	// key's backoff (zero after a success).
	Done func(w W, res R, err error, out Outcome, retryAt time.Time)
	// KeepBackoff: a full pass keeps the bookkeeping of a key nobody wants
	// while its backoff runs; otherwise it forgets it, backoff and all.
	KeepBackoff bool
	// Group, when set, names the group a want's key belongs to (the host of
	// a key of a host and an image): Dispatch keeps at most GroupCap (at
	// least 1) commands of one group in flight, and a want whose group is
	// full waits without taking a slot under Cap. Nil: no bound but Cap.
	Group    func(W) string
	GroupCap int
}

// state is one key's bookkeeping.
type state[W any] struct {
	inFlight bool
	sent     W // in flight, or last sent
	sentAt   time.Time
	wait     Wait
	failures int
	nextTry  time.Time
	lastErr  string
	gen      uint64 // the last full pass that wanted the key
	// abandon ends the command in flight (Dispatch's; nil for Run's).
	abandon context.CancelCauseFunc
	// queuedSince is when the key's want first found the cap (or its
	// group's) full, zero when it is not waiting for a free slot; onGroup:
	// the last pass found its group full (queue.go).
	queuedSince time.Time
	onGroup     bool
	// group is the key's group ("" without Verb.Group), as of its last
	// want or command.
	group string
}

// Dispatcher sends one verb's commands: see the package doc for the rules.
// Make it with New.
type Dispatcher[W, R any] struct {
	v Verb[W, R]

	mu       sync.Mutex
	keys     map[string]*state[W]
	inFlight int
	groups   map[string]int // commands in flight by group
	gen      uint64
	wg       sync.WaitGroup
}

// New makes a dispatcher for verb v.
func New[W, R any](v Verb[W, R]) *Dispatcher[W, R] {
	v.GroupCap = max(1, v.GroupCap)
	return &Dispatcher[W, R]{v: v, keys: map[string]*state[W]{}, groups: map[string]int{}}
}

// Dispatch starts the commands wants ask for that may go, within the cap and
// their groups'; it does not wait for them. A full pass (every want of the fleet) also forgets
// the keys it did not want and that have nothing in flight.
func (d *Dispatcher[W, R]) Dispatch(ctx context.Context, wants []W, full bool) {
	now := d.v.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if full {
		d.gen++
	}
	for _, w := range wants {
		st := d.keyLocked(d.v.Key(w))
		st.gen = d.gen
		if !st.inFlight {
			st.group = d.groupOf(w)
		}
		switch {
		case st.inFlight:
			st.queuedSince = time.Time{}
			if from, sent := d.v.From(w), d.v.From(st.sent); st.abandon != nil && from.Boot != "" && sent.Boot != "" && from.Boot != sent.Boot {
				st.abandon(ErrHostRestarted)
			}
			continue
		case now.Before(st.nextTry), st.wait.Holds(d.v.From(w)):
			st.queuedSince = time.Time{}
			continue
		case d.groupFullLocked(st.group), d.inFlight >= d.v.Cap:
			// A full group holds the want back whatever the cap: a slot
			// freed elsewhere would not send it.
			if st.queuedSince.IsZero() {
				st.queuedSince = now
			}
			st.onGroup = d.groupFullLocked(st.group)
			continue
		}
		st.queuedSince = time.Time{}
		d.startLocked(st, w, now)
		cctx, abandon := context.WithCancelCause(ctx)
		st.abandon = abandon
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			defer abandon(nil)
			res, err := d.v.Send(cctx, w)
			if context.Cause(cctx) == ErrHostRestarted && ctx.Err() == nil {
				err = fmt.Errorf("%w: %w", ErrHostRestarted, err)
			}
			d.finish(st, w, res, err)
		}()
	}
	if full {
		for k, st := range d.keys {
			if st.gen != d.gen {
				st.queuedSince = time.Time{} // nobody wants it any more
			}
			if st.gen != d.gen && !st.inFlight && (!d.v.KeepBackoff || !now.Before(st.nextTry)) {
				delete(d.keys, k)
			}
		}
	}
}

func (d *Dispatcher[W, R]) keyLocked(key string) *state[W] {
	st := d.keys[key]
	if st == nil {
		st = &state[W]{gen: d.gen}
		d.keys[key] = st
	}
	return st
}

// groupOf is w's group, "" without Verb.Group.
func (d *Dispatcher[W, R]) groupOf(w W) string {
	if d.v.Group == nil {
		return ""
	}
	return d.v.Group(w)
}

// groupFullLocked says whether group has GroupCap commands in flight.
func (d *Dispatcher[W, R]) groupFullLocked(group string) bool {
	return group != "" && d.groups[group] >= d.v.GroupCap
}

func (d *Dispatcher[W, R]) startLocked(st *state[W], w W, now time.Time) {
	st.inFlight, st.sent, st.sentAt = true, w, now
	st.group = d.groupOf(w)
	d.inFlight++
	if st.group != "" {
		d.groups[st.group]++
	}
}

// endLocked clears st's in-flight mark.
func (d *Dispatcher[W, R]) endLocked(st *state[W]) {
	st.inFlight, st.abandon = false, nil
	d.inFlight--
	if st.group != "" {
		if d.groups[st.group]--; d.groups[st.group] <= 0 {
			delete(d.groups, st.group)
		}
	}
}

// finish records a command's end: the key's wait for a report and its
// backoff, as the verb's Finish says.
func (d *Dispatcher[W, R]) finish(st *state[W], w W, res R, err error) {
	out := d.v.Finish(w, res, err)
	if errors.Is(err, ErrHostRestarted) {
		out = Outcome{} // nothing to wait for, nothing to back off from
	}
	now := d.v.Now()
	d.mu.Lock()
	d.endLocked(st)
	if out.SetWait {
		st.wait = out.Wait
	}
	if out.Failure != "" {
		st.failures++
		st.nextTry = now.Add(d.v.Backoff(st.failures))
		st.lastErr = out.Failure
	} else {
		st.failures, st.nextTry, st.lastErr = 0, time.Time{}, ""
	}
	retryAt := st.nextTry
	d.mu.Unlock()
	if d.v.Done != nil {
		d.v.Done(w, res, err, out, retryAt)
	}
}

// BusyError is Run's refusal: a command is in flight for the key.
type BusyError struct {
	Key   string
	Since time.Time // when it was sent
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("a command is already in flight for %s since %s", e.Key, e.Since.UTC().Format(time.RFC3339))
}

// Run sends an operator's command at once (no cap, no backoff, no wait for
// a newer report) unless one is in flight for the key (a *BusyError); it
// waits for the reply. send sends it, in place of the verb's Send. It counts
// as in flight while it runs, and Wait waits for it. Its end is recorded as
// a dispatched command's is, except that a dry run that succeeded only
// clears the in-flight mark: it neither delays nor backs off the key's next
// command, and Done is not called.
func (d *Dispatcher[W, R]) Run(ctx context.Context, w W, dryRun bool, send func(context.Context) (R, error)) (R, error) {
	key := d.v.Key(w)
	d.mu.Lock()
	st := d.keyLocked(key)
	if st.inFlight {
		since := st.sentAt
		d.mu.Unlock()
		var zero R
		return zero, &BusyError{Key: key, Since: since}
	}
	d.startLocked(st, w, d.v.Now())
	d.wg.Add(1)
	d.mu.Unlock()
	defer d.wg.Done()
	res, err := send(ctx)
	if dryRun && err == nil {
		d.mu.Lock()
		d.endLocked(st)
		d.mu.Unlock()
		return res, nil
	}
	d.finish(st, w, res, err)
	return res, err
}

// Status is one key's bookkeeping.
type Status[W any] struct {
	InFlight bool
	Sent     W // in flight, or last sent
	SentAt   time.Time
	Failures int // in a row
	NextTry  time.Time
	Err      string // why the last command failed
	// QueuedSince is when the key's want first found the cap or its
	// group full (zero: not waiting for a free slot); Pending says its
	// place.
	QueuedSince time.Time
}

// Status returns the key's bookkeeping; false when the dispatcher has none.
func (d *Dispatcher[W, R]) Status(key string) (Status[W], bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.keys[key]
	if st == nil {
		return Status[W]{}, false
	}
	return Status[W]{InFlight: st.inFlight, Sent: st.sent, SentAt: st.sentAt,
		Failures: st.failures, NextTry: st.nextTry, Err: st.lastErr, QueuedSince: st.queuedSince}, true
}

// InFlightKeys returns the keys with a command in flight.
func (d *Dispatcher[W, R]) InFlightKeys() map[string]bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]bool{}
	for k, st := range d.keys {
		if st.inFlight {
			out[k] = true
		}
	}
	return out
}

// InFlight is the number of commands in flight, Run's included.
func (d *Dispatcher[W, R]) InFlight() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.inFlight
}

// Wait waits for every command in flight.
func (d *Dispatcher[W, R]) Wait() { d.wg.Wait() }
