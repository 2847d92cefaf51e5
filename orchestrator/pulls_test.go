package orchestrator

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmfleet/vmfleet/events"
)

// recordingSender answers every pull with the next of its results.
type recordingSender struct {
	mu      sync.Mutex
	sent    []events.PullRequest
	results []pullResult
}

type pullResult struct {
	after pullCheck
	err   error
}

func (r *recordingSender) send(_ context.Context, _ string, req events.PullRequest) (pullCheck, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, req)
	if len(r.results) == 0 {
		return pullCheck{}, nil
	}
	res := r.results[0]
	r.results = r.results[1:]
	return res.after, res.err
}

func (r *recordingSender) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sent)
}

func TestPullNotResentForReportsMadeWhilePulling(t *testing.T) {
	t.Parallel()
	cfg, _ := Config{}.withDefaults()
	s := &recordingSender{results: []pullResult{{after: pullCheck{boot: "b1", seq: 9}}}}
	p := newPullManager(cfg, testLogger(t), func() time.Time { return t0 }, s.send)
	// When the reply comes, the orchestrator has seen report 6 only; the
	// agent checked (seq 9) right after pulling.
	p.current = func(string) (string, uint64) { return "b1", 6 }
	want := func(seq uint64) []pullWant {
		return []pullWant{{host: "mac-01", image: "img-13", ref: "ghcr.io/a/img-13:1", boot: "b1", seq: seq}}
	}
	p.Dispatch(t.Context(), want(5), false)
	p.Wait()
	tests := []struct {
		name     string
		seq      uint64
		wantSent int
	}{
		{"a heartbeat published while pulling arrives after the reply", 8, 1},
		{"the check made right after the pull", 9, 1},
		{"a later report still says missing", 10, 2},
	}
	for _, tt := range tests {
		p.Dispatch(t.Context(), want(tt.seq), false)
		p.Wait()
		if got := s.count(); got != tt.wantSent {
			t.Errorf("%s: Got(pull commands) = %d, want %d", tt.name, got, tt.wantSent)
		}
	}
}

func TestPullFailureBacksOff(t *testing.T) {
	t.Parallel()
	cfg, _ := Config{}.withDefaults()
	now := t0
	s := &recordingSender{results: []pullResult{{err: errors.New("agent busy")}}}
	p := newPullManager(cfg, testLogger(t), func() time.Time { return now }, s.send)
	w := []pullWant{{host: "mac-01", image: "img-13", ref: "r", boot: "b1", seq: 5}}
	p.Dispatch(t.Context(), w, false)
	p.Wait()
	p.Dispatch(t.Context(), w, false)
	p.Wait()
	if got := s.count(); got != 1 {
		t.Errorf("Got(pull commands within the backoff) = %d, want 1", got)
	}
	now = now.Add(cfg.BackoffBase + time.Second)
	p.Dispatch(t.Context(), w, false)
	p.Wait()
	if got := s.count(); got != 2 {
		t.Errorf("Got(pull commands after the backoff) = %d, want 2", got)
	}
}

func TestDoneAfter(t *testing.T) {
	t.Parallel()
	w := pullWant{boot: "b1", seq: 5}
	tests := []struct {
		name     string
		boot     string
		seq      uint64
		after    pullCheck
		wantBoot string
		wantSeq  uint64
	}{
		{"the reply's check", "b1", 6, pullCheck{"b1", 9}, "b1", 9},
		{"the reply's check on a new boot", "b1", 6, pullCheck{"b2", 1}, "b2", 1},
		{"no health in the reply: the latest report seen", "b1", 7, pullCheck{}, "b1", 7},
		{"no health, nothing newer seen", "b1", 3, pullCheck{}, "b1", 5},
		{"no health, another boot seen", "b2", 9, pullCheck{}, "b1", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			boot, seq := doneAfter(w, tt.boot, tt.seq, tt.after)
			if diff := cmp.Diff([]any{tt.wantBoot, tt.wantSeq}, []any{boot, seq}); diff != "" {
				t.Errorf("Got(doneAfter) (-want +got):\n%s", diff)
			}
		})
	}
}
