package hostcmd

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// gated is a verb whose keys are "host/what", grouped by host: each command
// waits until its key is released, then answers with the key's result.
type gated struct {
	mu    sync.Mutex
	now   time.Time
	sent  []string
	gates map[string]chan error
	errs  []error
	// finished receives each finished command's key, after its
	// bookkeeping.
	finished chan string
}

func (g *gated) verb(cap, groupCap int) Verb[want, reply] {
	return Verb[want, reply]{
		Cap:      cap,
		GroupCap: groupCap,
		Group:    func(w want) string { host, _, _ := strings.Cut(w.key, "/"); return host },
		Backoff:  func(n int) time.Duration { return 10 * time.Second << (n - 1) },
		Now: func() time.Time {
			g.mu.Lock()
			defer g.mu.Unlock()
			return g.now
		},
		Key:  func(w want) string { return w.key },
		From: func(w want) Report { return w.from },
		Send: func(ctx context.Context, w want) (reply, error) {
			g.mu.Lock()
			g.sent = append(g.sent, w.key)
			gate := g.gateLocked(w.key)
			g.mu.Unlock()
			select {
			case err := <-gate:
				return reply{}, err
			case <-ctx.Done():
				return reply{}, ctx.Err()
			}
		},
		Finish: func(w want, _ reply, err error) Outcome {
			if err != nil {
				return Outcome{Failure: err.Error()}
			}
			return Outcome{Wait: After(w.from), SetWait: true} // a newer report first
		},
		Done: func(w want, _ reply, err error, _ Outcome, _ time.Time) {
			g.mu.Lock()
			defer g.mu.Unlock()
			g.errs = append(g.errs, err)
			g.finished <- w.key
		},
	}
}

func (g *gated) gateLocked(key string) chan error {
	if g.gates == nil {
		g.gates = map[string]chan error{}
	}
	if g.gates[key] == nil {
		g.gates[key] = make(chan error, 1)
	}
	return g.gates[key]
}

// release answers key's command (in flight or to come) with err.
func (g *gated) release(key string, err error) {
	g.mu.Lock()
	gate := g.gateLocked(key)
	g.mu.Unlock()
	gate <- err
}

func (g *gated) takeSent() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.sent
	g.sent = nil
	slices.Sort(s)
	return s
}

// next waits for the next command to finish and says which.
func (g *gated) next(t *testing.T) string {
	t.Helper()
	select {
	case k := <-g.finished:
		return k
	case <-time.After(10 * time.Second):
		t.Fatal("no command finished within 10s")
		return ""
	}
}

func inFlightKeys[W, R any](d *Dispatcher[W, R]) []string {
	var out []string
	for k := range d.InFlightKeys() {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestDispatchGroupCap: a host's second command waits for its first without
// taking a slot of the fleet-wide cap, so the slot goes to another host; a
// want held by its host says so (Pending.Group, Behind); a finished,
// failed or abandoned command frees its host at once.
func TestDispatchGroupCap(t *testing.T) {
	g := &gated{now: t0, finished: make(chan string, 16)}
	d := New(g.verb(2, 1))
	ctx := t.Context()
	wants := []want{w("h1/13", "b1", 1), w("h1/14", "b1", 1), w("h2/13", "b1", 1), w("h2/14", "b1", 1), w("h3/13", "b1", 1)}

	d.Dispatch(ctx, wants, true)
	if diff := cmp.Diff([]string{"h1/13", "h2/13"}, inFlightKeys(d)); diff != "" {
		t.Fatalf("Got(in flight after the first pass) diff (-want +got):\n%s", diff)
	}
	exp := map[string]Pending{
		"h1/14": {Queued: true, Since: t0, Position: 1, Of: 1, Cap: 1, Group: "h1", Behind: "h1/13"},
		"h2/14": {Queued: true, Since: t0, Position: 1, Of: 1, Cap: 1, Group: "h2", Behind: "h2/13"},
		"h3/13": {Queued: true, Since: t0, Position: 1, Of: 1, Cap: 2},
	}
	if diff := cmp.Diff(exp, d.Pending(t0)); diff != "" {
		t.Errorf("Got(Pending) diff (-want +got):\n%s", diff)
	}

	// h1's pull ends: its other command goes (first in the pass's order),
	// h3 still waits on the fleet-wide cap, h2's on its host.
	g.release("h1/13", nil)
	g.next(t)
	d.Dispatch(ctx, wants, true)
	if diff := cmp.Diff([]string{"h1/14", "h2/13"}, inFlightKeys(d)); diff != "" {
		t.Errorf("Got(in flight once h1/13 ended) diff (-want +got):\n%s", diff)
	}

	// h2's fails: it backs off, and its host's other command goes in its
	// place rather than h3's (the pass's order); the failed one is not
	// queued behind anything.
	g.release("h2/13", errors.New("tart: no"))
	g.next(t)
	d.Dispatch(ctx, wants, true)
	if diff := cmp.Diff([]string{"h1/14", "h2/14"}, inFlightKeys(d)); diff != "" {
		t.Errorf("Got(in flight once h2/13 failed) diff (-want +got):\n%s", diff)
	}
	if p := d.Pending(t0)["h2/13"]; p.Queued || p.Failures != 1 {
		t.Errorf("Got(Pending(h2/13)) = %+v, want backing off after 1 failure", p)
	}

	// h1 restarts while its command is in flight: the command is abandoned
	// and the host is free again for the next pass.
	restarted := []want{w("h1/14", "b2", 1), w("h1/13", "b2", 1)}
	d.Dispatch(ctx, restarted, false)
	if got := g.next(t); got != "h1/14" {
		t.Fatalf("Got(command finished at the restart) = %s, want h1/14", got)
	}
	d.Dispatch(ctx, restarted, false)
	if diff := cmp.Diff([]string{"h1/14", "h2/14"}, inFlightKeys(d)); diff != "" {
		t.Errorf("Got(in flight after h1 restarted) diff (-want +got):\n%s", diff)
	}
	g.mu.Lock()
	abandoned := g.errs[2]
	g.mu.Unlock()
	if !errors.Is(abandoned, ErrHostRestarted) {
		t.Errorf("Got(error of h1's command at the restart) = %v, want ErrHostRestarted", abandoned)
	}

	for _, k := range []string{"h1/14", "h2/14"} {
		g.release(k, nil)
	}
	d.Wait()
	if got := d.InFlight(); got != 0 {
		t.Errorf("Got(in flight after Wait) = %d, want 0", got)
	}
	if diff := cmp.Diff([]string{"h1/13", "h1/14", "h1/14", "h2/13", "h2/14"}, g.takeSent()); diff != "" {
		t.Errorf("Got(commands sent) diff (-want +got):\n%s", diff)
	}
}

// TestRunCountsInItsGroup: an operator's command goes past a full group,
// and while it runs the group's dispatched commands wait for it.
func TestRunCountsInItsGroup(t *testing.T) {
	g := &gated{now: t0, finished: make(chan string, 16)}
	d := New(g.verb(10, 1))
	ctx := t.Context()
	ran, running, end := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ran)
		_, err := d.Run(ctx, w("h1/13", "b1", 1), false, func(ctx context.Context) (reply, error) {
			close(running)
			<-end
			return reply{}, nil
		})
		if err != nil {
			t.Errorf("Got(Run) = %v, want nil", err)
		}
	}()
	<-running
	d.Dispatch(ctx, []want{w("h1/14", "b1", 1)}, true)
	if got := inFlightKeys(d); !slices.Equal(got, []string{"h1/13"}) {
		t.Errorf("Got(in flight while Run's runs) = %v, want [h1/13]", got)
	}
	close(end)
	<-ran
	d.Dispatch(ctx, []want{w("h1/14", "b1", 1)}, true)
	if got := inFlightKeys(d); !slices.Equal(got, []string{"h1/14"}) {
		t.Errorf("Got(in flight once Run's ended) = %v, want [h1/14]", got)
	}
	g.release("h1/14", nil)
	d.Wait()
}
