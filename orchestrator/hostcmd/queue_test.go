package hostcmd

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestPending: the keys a full cap holds back are queued, the longest
// waiting first, with their place; a failed key backs off until its next
// try; a key that starts, or that nobody wants any more, leaves the queue.
func TestPending(t *testing.T) {
	f := &fake{now: t0, hold: make(chan struct{}), reply: reply{failure: "busy"}}
	d := New(f.verb(1, false))
	ctx := t.Context()
	d.Dispatch(ctx, []want{w("a", "b", 1), w("c", "b", 1), w("b", "b", 1)}, true) // a goes; b, c wait
	f.set(func(f *fake) { f.now = t0.Add(time.Second) })
	d.Dispatch(ctx, []want{w("d", "b", 1), w("c", "b", 1)}, false) // d waits, after b and c
	got := d.Pending(t0.Add(time.Second))
	exp := map[string]Pending{
		"b": {Queued: true, Since: t0, Position: 1, Of: 3, Cap: 1},
		"c": {Queued: true, Since: t0, Position: 2, Of: 3, Cap: 1},
		"d": {Queued: true, Since: t0.Add(time.Second), Position: 3, Of: 3, Cap: 1},
	}
	if diff := cmp.Diff(exp, got); diff != "" {
		t.Errorf("Got(Pending with a in flight) diff (-want +got):\n%s", diff)
	}
	if st, _ := d.Status("c"); !st.QueuedSince.Equal(t0) {
		t.Errorf("Got(Status(c).QueuedSince) = %s, want %s", st.QueuedSince, t0)
	}

	// a fails and backs off 10 s; the next full pass starts b, keeps c
	// queued and forgets d, which it no longer wants.
	close(f.hold)
	d.Wait()
	f.set(func(f *fake) { f.hold, f.reply = make(chan struct{}), reply{} })
	d.Dispatch(ctx, []want{w("a", "b", 1), w("b", "b", 1), w("c", "b", 1)}, true)
	got = d.Pending(t0.Add(2 * time.Second))
	exp = map[string]Pending{
		"a": {Failures: 1, NextTry: t0.Add(11 * time.Second), Err: "busy"},
		"c": {Queued: true, Since: t0, Position: 1, Of: 1, Cap: 1},
	}
	if diff := cmp.Diff(exp, got); diff != "" {
		t.Errorf("Got(Pending after a failed) diff (-want +got):\n%s", diff)
	}
	if got := d.Pending(t0.Add(11 * time.Second))["a"]; got != (Pending{}) {
		t.Errorf("Got(Pending(a) once its backoff ended) = %+v, want none", got)
	}
	f.set(func(f *fake) { close(f.hold) })
	d.Wait()
}
