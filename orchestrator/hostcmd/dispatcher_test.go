package hostcmd

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// want is a test verb's want: a key and the report it was derived from.
type want struct {
	key  string
	from Report
}

func w(key, boot string, seq uint64) want { return want{key: key, from: Report{Boot: boot, Seq: seq}} }

// reply is what the fake agent answers; Finish turns it into the outcome.
type reply struct {
	failure string
	wait    Wait
	setWait bool
}

// fake is a verb's sender and observer: it records what was sent and what
// finished, answers with reply, and, while hold is open, holds every send.
type fake struct {
	mu    sync.Mutex
	sent  []string
	done  []string
	retry []time.Time
	reply reply
	hold  chan struct{}
	now   time.Time
}

func (f *fake) verb(cap int, keepBackoff bool) Verb[want, reply] {
	return Verb[want, reply]{
		Cap:     cap,
		Backoff: func(n int) time.Duration { return 10 * time.Second << (n - 1) },
		Now: func() time.Time {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.now
		},
		Key:  func(w want) string { return w.key },
		From: func(w want) Report { return w.from },
		Send: func(ctx context.Context, w want) (reply, error) {
			f.mu.Lock()
			f.sent = append(f.sent, w.key)
			hold, r := f.hold, f.reply
			f.mu.Unlock()
			if hold != nil {
				select {
				case <-hold:
				case <-ctx.Done():
					return reply{}, ctx.Err()
				}
			}
			return r, nil
		},
		Finish: func(_ want, r reply, err error) Outcome {
			if err != nil {
				return Outcome{Failure: err.Error()}
			}
			return Outcome{Failure: r.failure, Wait: r.wait, SetWait: r.setWait}
		},
		Done: func(w want, _ reply, _ error, _ Outcome, retryAt time.Time) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.done = append(f.done, w.key)
			f.retry = append(f.retry, retryAt)
		},
		KeepBackoff: keepBackoff,
	}
}

func (f *fake) takeSent() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.sent
	f.sent = nil
	slices.Sort(s)
	return s
}

func (f *fake) set(fn func(f *fake)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// TestDispatchSends: each step advances the clock, dispatches its wants,
// waits for the commands and checks which keys were sent.
func TestDispatchSends(t *testing.T) {
	type step struct {
		advance time.Duration
		wants   []want
		reply   reply // the agent's answer from this step on
		sent    []string
	}
	ok := reply{}
	tests := []struct {
		name  string
		first reply // the answer to the first step
		steps []step
	}{
		{name: "no wait, no failure: sent every pass", first: ok, steps: []step{
			{wants: []want{w("a", "b", 1)}, sent: []string{"a"}},
			{wants: []want{w("a", "b", 1)}, sent: []string{"a"}},
		}},
		{name: "AtOrAfter: holds until the report the reply names", first: reply{wait: AtOrAfter(Report{"b", 5}), setWait: true}, steps: []step{
			{wants: []want{w("a", "b", 1)}},
			{wants: []want{w("a", "b", 4)}},
			{wants: []want{w("a", "b", 5)}, sent: []string{"a"}},
		}},
		{name: "After: holds through the report it names", first: reply{wait: After(Report{"b", 9}), setWait: true}, steps: []step{
			{wants: []want{w("a", "b", 9)}},
			{wants: []want{w("a", "b", 10)}, sent: []string{"a"}},
		}},
		{name: "a report of another boot is past the wait", first: reply{wait: AtOrAfter(Report{"b", 5}), setWait: true}, steps: []step{
			{wants: []want{w("a", "c", 1)}, sent: []string{"a"}},
		}},
		{name: "the wait is per key", first: reply{wait: AtOrAfter(Report{"b", 5}), setWait: true}, steps: []step{
			{wants: []want{w("a", "b", 2), w("z", "b", 2)}, sent: []string{"z"}},
		}},
		{name: "an outcome without SetWait keeps the wait", first: reply{wait: AtOrAfter(Report{"b", 5}), setWait: true}, steps: []step{
			{wants: []want{w("a", "b", 5)}, reply: reply{wait: AtOrAfter(Report{"b", 99})}, sent: []string{"a"}},
			{wants: []want{w("a", "b", 6)}, sent: []string{"a"}},
		}},
		{name: "a failure backs off, doubling", first: reply{failure: "busy"}, steps: []step{
			{advance: 9 * time.Second, wants: []want{w("a", "b", 1)}},
			{advance: time.Second, wants: []want{w("a", "b", 1)}, reply: reply{failure: "busy"}, sent: []string{"a"}},
			{advance: 19 * time.Second, wants: []want{w("a", "b", 1)}},
			{advance: time.Second, wants: []want{w("a", "b", 1)}, sent: []string{"a"}},
		}},
		{name: "a success ends the backoff", first: reply{failure: "busy"}, steps: []step{
			{advance: 10 * time.Second, wants: []want{w("a", "b", 1)}, reply: ok, sent: []string{"a"}},
			{wants: []want{w("a", "b", 1)}, sent: []string{"a"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fake{now: t0, reply: tt.first}
			d := New(f.verb(10, false))
			d.Dispatch(t.Context(), []want{w("a", "b", 1)}, true)
			d.Wait()
			f.takeSent()
			for i, st := range tt.steps {
				f.set(func(f *fake) { f.now, f.reply = f.now.Add(st.advance), st.reply })
				d.Dispatch(t.Context(), st.wants, true)
				d.Wait()
				if diff := cmp.Diff(st.sent, f.takeSent()); diff != "" {
					t.Errorf("Got(step %d: keys sent) diff (-want +got):\n%s", i, diff)
				}
			}
		})
	}
}

// TestDispatchCapAndInFlight: at most Cap commands in flight, one per key;
// Run passes the cap but not a command in flight for its key; Wait waits for
// Run's command too.
func TestDispatchCapAndInFlight(t *testing.T) {
	f := &fake{now: t0, hold: make(chan struct{})}
	d := New(f.verb(2, false))
	ctx := t.Context()
	wants := []want{w("a", "b", 1), w("b", "b", 1), w("c", "b", 1)}
	d.Dispatch(ctx, wants, true)
	d.Dispatch(ctx, wants, false)
	if got := d.InFlight(); got != 2 {
		t.Errorf("Got(in flight) = %d, want 2 (the cap)", got)
	}
	if diff := cmp.Diff(map[string]bool{"a": true, "b": true}, d.InFlightKeys()); diff != "" {
		t.Errorf("Got(keys in flight) diff (-want +got):\n%s", diff)
	}
	_, err := d.Run(ctx, w("a", "b", 1), false, func(context.Context) (reply, error) {
		t.Error("Run sent a command while one was in flight for its key")
		return reply{}, nil
	})
	if busy, ok := errors.AsType[*BusyError](err); !ok || busy.Key != "a" || !busy.Since.Equal(t0) {
		t.Errorf("Got(Run while in flight) = %v, want a *BusyError for a since %s", err, t0)
	}
	// The third key is over the cap for Dispatch, not for Run.
	_, err = d.Run(ctx, w("c", "b", 1), false, func(context.Context) (reply, error) {
		if got := d.InFlight(); got != 3 {
			t.Errorf("Got(in flight while Run sends) = %d, want 3", got)
		}
		return reply{}, nil
	})
	if err != nil {
		t.Errorf("Got(Run over the cap) = %v, want nil", err)
	}
	close(f.hold)
	d.Wait()
	if got := d.InFlight(); got != 0 {
		t.Errorf("Got(in flight after Wait) = %d, want 0", got)
	}
	if got := len(f.takeSent()); got != 2 {
		t.Errorf("Got(commands sent by Dispatch) = %d, want 2", got)
	}
}

// TestRunLeavesNoTraceOfADryRun: an operator's command passes the backoff and
// the wait; a dry run that succeeded changes neither, and Done is not called;
// one that failed is recorded as any command.
func TestRunLeavesNoTraceOfADryRun(t *testing.T) {
	tests := []struct {
		name         string
		dryRun       bool
		err          error
		wantFailures int
		wantDone     int
		wantHeld     bool // the next Dispatch is still held by the first command's wait
	}{
		{name: "dry run", dryRun: true, wantFailures: 1, wantDone: 1},
		{name: "failed dry run", dryRun: true, err: errors.New("no responders"), wantFailures: 2, wantDone: 2},
		{name: "real run", wantFailures: 0, wantDone: 2, wantHeld: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fake{now: t0, reply: reply{failure: "busy"}}
			d := New(f.verb(10, false))
			d.Dispatch(t.Context(), []want{w("a", "b", 1)}, true) // fails: backs off
			d.Wait()
			_, err := d.Run(t.Context(), w("a", "b", 1), tt.dryRun, func(context.Context) (reply, error) {
				return reply{wait: AtOrAfter(Report{"b", 5}), setWait: true}, tt.err
			})
			if !errors.Is(err, tt.err) {
				t.Errorf("Got(Run) = %v, want %v", err, tt.err)
			}
			st, _ := d.Status("a")
			if st.Failures != tt.wantFailures || st.InFlight {
				t.Errorf("Got(status) = %+v, want %d failures, nothing in flight", st, tt.wantFailures)
			}
			if got := len(f.done); got != tt.wantDone {
				t.Errorf("Got(Done calls) = %d, want %d", got, tt.wantDone)
			}
			// Past the backoff, only the real run's wait holds the next command.
			f.set(func(f *fake) { f.now, f.reply = f.now.Add(time.Minute), reply{} })
			f.takeSent()
			d.Dispatch(t.Context(), []want{w("a", "b", 4)}, true)
			d.Wait()
			if held := len(f.takeSent()) == 0; held != tt.wantHeld {
				t.Errorf("Got(held by the run's wait) = %v, want %v", held, tt.wantHeld)
			}
		})
	}
}

// TestDispatchForgets: a full pass forgets a key nobody wants and with
// nothing in flight; with KeepBackoff, only once its backoff ended. A dirty
// pass forgets nothing.
func TestDispatchForgets(t *testing.T) {
	tests := []struct {
		name        string
		keepBackoff bool
		failure     string
		advance     time.Duration
		full        bool
		wantKnown   bool
	}{
		{name: "done, full pass", full: true},
		{name: "done, dirty pass", wantKnown: true},
		{name: "backing off, full pass", failure: "busy", full: true},
		{name: "backing off, KeepBackoff", keepBackoff: true, failure: "busy", full: true, wantKnown: true},
		{name: "backoff over, KeepBackoff", keepBackoff: true, failure: "busy", advance: 10 * time.Second, full: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fake{now: t0, reply: reply{failure: tt.failure}}
			d := New(f.verb(10, tt.keepBackoff))
			d.Dispatch(t.Context(), []want{w("a", "b", 1), w("z", "b", 1)}, true)
			d.Wait()
			f.set(func(f *fake) { f.now = f.now.Add(tt.advance) })
			d.Dispatch(t.Context(), []want{w("z", "b", 1)}, tt.full)
			d.Wait()
			if _, known := d.Status("a"); known != tt.wantKnown {
				t.Errorf("Got(key known after the pass) = %v, want %v", known, tt.wantKnown)
			}
			if _, known := d.Status("z"); !known {
				t.Error("Got(wanted key known) = false, want true")
			}
		})
	}
}

// TestDoneSeesTheBackoff: Done is called after each command with the end of
// the key's backoff (zero after a success), and Status shows the failure.
func TestDoneSeesTheBackoff(t *testing.T) {
	f := &fake{now: t0, reply: reply{failure: "kept by the agent"}}
	d := New(f.verb(10, false))
	d.Dispatch(t.Context(), []want{w("a", "b", 1)}, true)
	d.Wait()
	st, _ := d.Status("a")
	exp := Status[want]{Sent: w("a", "b", 1), SentAt: t0, Failures: 1, NextTry: t0.Add(10 * time.Second), Err: "kept by the agent"}
	if diff := cmp.Diff(exp, st, cmp.AllowUnexported(want{})); diff != "" {
		t.Errorf("Got(status) diff (-want +got):\n%s", diff)
	}
	f.set(func(f *fake) { f.now, f.reply = f.now.Add(10*time.Second), reply{} })
	d.Dispatch(t.Context(), []want{w("a", "b", 1)}, true)
	d.Wait()
	if diff := cmp.Diff([]time.Time{t0.Add(10 * time.Second), {}}, f.retry); diff != "" {
		t.Errorf("Got(retryAt per Done) diff (-want +got):\n%s", diff)
	}
}

func TestWaitHolds(t *testing.T) {
	tests := []struct {
		name string
		wait Wait
		r    Report
		want bool
	}{
		{"zero holds nothing", Wait{}, Report{"b", 0}, false},
		{"AtOrAfter: an earlier report", AtOrAfter(Report{"b", 5}), Report{"b", 4}, true},
		{"AtOrAfter: the report itself", AtOrAfter(Report{"b", 5}), Report{"b", 5}, false},
		{"After: the report itself", After(Report{"b", 5}), Report{"b", 5}, true},
		{"After: the next report", After(Report{"b", 5}), Report{"b", 6}, false},
		{"another boot", AtOrAfter(Report{"b", 5}), Report{"c", 1}, false},
	}
	for _, tt := range tests {
		if got := tt.wait.Holds(tt.r); got != tt.want {
			t.Errorf("%s: Got(Holds) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestDispatchAbandonsACommandToARestartedHost: a command in flight to an
// agent that restarted (a want for its key from a later boot) ends at once
// with ErrHostRestarted, without a backoff, and the next pass sends it
// again; a want of the same boot leaves it in flight.
func TestDispatchAbandonsACommandToARestartedHost(t *testing.T) {
	f := &fake{now: t0, hold: make(chan struct{})}
	var (
		mu   sync.Mutex
		errs []error
	)
	v := f.verb(10, false)
	done := v.Done
	v.Done = func(w want, r reply, err error, out Outcome, retryAt time.Time) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
		done(w, r, err, out, retryAt)
	}
	d := New(v)
	ctx := t.Context()
	d.Dispatch(ctx, []want{w("a", "boot-1", 1)}, true)
	d.Dispatch(ctx, []want{w("a", "boot-1", 2)}, true)
	if got := d.InFlight(); got != 1 {
		t.Fatalf("Got(in flight after a want of the same boot) = %d, want 1", got)
	}
	d.Dispatch(ctx, []want{w("a", "boot-2", 1)}, true) // the agent restarted
	finished := make(chan struct{})
	go func() { d.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(10 * time.Second):
		close(f.hold)
		t.Fatal("the command to the restarted host is still in flight")
	}
	mu.Lock()
	got := slices.Clone(errs)
	mu.Unlock()
	if len(got) != 1 || !errors.Is(got[0], ErrHostRestarted) {
		t.Fatalf("Got(command errors) = %v, want one ErrHostRestarted", got)
	}
	if st, _ := d.Status("a"); st.Failures != 0 || !st.NextTry.IsZero() {
		t.Errorf("Got(status after the abandon) = %+v, want no failure, no backoff", st)
	}
	f.takeSent()
	close(f.hold)
	d.Dispatch(ctx, []want{w("a", "boot-2", 1)}, true)
	d.Wait()
	if diff := cmp.Diff([]string{"a"}, f.takeSent()); diff != "" {
		t.Errorf("Got(sent after the abandon) diff (-want +got):\n%s", diff)
	}
}
