package pulls

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/testlog"
	"github.com/vmfleet/vmfleet/orchestrator/internal/orchtest"
)

// recordingSender answers every pull with the next of its results.
type recordingSender struct {
	mu      sync.Mutex
	sent    []events.PullRequest
	results []pullResult
}

type pullResult struct {
	after check
	err   error
}

func (r *recordingSender) send(_ context.Context, _ string, req events.PullRequest) (check, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, req)
	if len(r.results) == 0 {
		return check{}, nil
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

var t0 = orchtest.T0

// testConfig is the orchestrator's defaults for pulls.
var testConfig = Config{Concurrency: 10, Timeout: 2 * time.Hour, BackoffBase: time.Minute, BackoffMax: time.Hour}

// newTestManager is a Manager whose commands go to s; current is the
// core's latest report of a host (nil: none).
func newTestManager(t *testing.T, now func() time.Time, s *recordingSender, current func(string) (string, uint64)) *Manager {
	t.Helper()
	if current == nil {
		current = func(string) (string, uint64) { return "", 0 }
	}
	p, err := New(testConfig, Deps{Now: now, Log: testlog.New(t, slog.LevelDebug), Reg: prometheus.NewRegistry(),
		Current: current, Wake: func() {}})
	if err != nil {
		t.Fatal(err)
	}
	p.send = s.send
	return p
}

func TestPullNotResentForReportsMadeWhilePulling(t *testing.T) {
	t.Parallel()
	s := &recordingSender{results: []pullResult{{after: check{boot: "b1", seq: 9}}}}
	// When the reply comes, the orchestrator has seen report 6 only; the
	// agent checked (seq 9) right after pulling.
	p := newTestManager(t, func() time.Time { return t0 }, s, func(string) (string, uint64) { return "b1", 6 })
	want := func(seq uint64) []Want {
		return []Want{{Host: "mac-01", Image: "img-13", Ref: "ghcr.io/a/img-13:1", Boot: "b1", Seq: seq}}
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
	now := t0
	s := &recordingSender{results: []pullResult{{err: errors.New("agent busy")}}}
	p := newTestManager(t, func() time.Time { return now }, s, nil)
	w := []Want{{Host: "mac-01", Image: "img-13", Ref: "r", Boot: "b1", Seq: 5}}
	p.Dispatch(t.Context(), w, false)
	p.Wait()
	p.Dispatch(t.Context(), w, false)
	p.Wait()
	if got := s.count(); got != 1 {
		t.Errorf("Got(pull commands within the backoff) = %d, want 1", got)
	}
	now = now.Add(testConfig.BackoffBase + time.Second)
	p.Dispatch(t.Context(), w, false)
	p.Wait()
	if got := s.count(); got != 2 {
		t.Errorf("Got(pull commands after the backoff) = %d, want 2", got)
	}
}

func TestDoneAfter(t *testing.T) {
	t.Parallel()
	w := Want{Boot: "b1", Seq: 5}
	tests := []struct {
		name     string
		boot     string
		seq      uint64
		after    check
		wantBoot string
		wantSeq  uint64
	}{
		{"the reply's check", "b1", 6, check{"b1", 9}, "b1", 9},
		{"the reply's check on a new boot", "b1", 6, check{"b2", 1}, "b2", 1},
		{"no health in the reply: the latest report seen", "b1", 7, check{}, "b1", 7},
		{"no health, nothing newer seen", "b1", 3, check{}, "b1", 5},
		{"no health, another boot seen", "b2", 9, check{}, "b1", 5},
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
