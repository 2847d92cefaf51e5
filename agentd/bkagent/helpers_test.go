package bkagent

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
)

// tlog routes logs to t.Log.
func tlog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

const (
	img13 = "bun-build-macos-13-1.2.16-bootstrap-3.6"
	img14 = "bun-build-macos-14-1.2.16-bootstrap-3.6"
)

// rel is a release status with the default spec's versions.
func rel(r string, ready bool, reason events.Reason) events.ReleaseStatus {
	return events.ReleaseStatus{
		Release: r, ExpectedImage: "bun-build-macos-" + r + "-1.2.16-bootstrap-3.6",
		Ready: ready, Reason: reason, Bun: "1.2.16", Bootstrap: "3.6",
	}
}

// health is a check's result for host mini-1.
func health(rs ...events.ReleaseStatus) events.HostHealth {
	return events.HostHealth{
		Host: "mini-1", BootID: "b", Seq: 1, CheckedAt: time.Date(2025, 1, 7, 10, 0, 0, 0, time.UTC),
		Releases: rs,
	}
}

func ready14() events.HostHealth    { return health(rel("14", true, events.ReasonReady)) }
func notReady14() events.HostHealth { return health(rel("14", false, events.ReasonImageMissing)) }

// waitUntil polls cond until it holds or fails the test after timeout.
func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s", what, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fakeClock has a settable Now; After records the delay and fires at once,
// so crash backoff is observed without sleeping.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2025, 1, 7, 10, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	ch := make(chan time.Time, 1)
	ch <- c.now.Add(d)
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

// running is a Supervisor's Run in the background.
type running struct {
	cancel context.CancelFunc
	done   chan error
}

func runInBackground(t *testing.T, s *Supervisor) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		s.Cancel() // a test that failed midway must not leave a held job behind
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after its context ended")
		}
	})
	return r
}

// wait waits for Run to return, failing after timeout.
func (r *running) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for Cleanup
		return err
	case <-time.After(timeout):
		t.Fatalf("Run did not return within %s", timeout)
		return nil
	}
}

// returned reports whether Run has returned, without waiting.
func (r *running) returned() bool {
	select {
	case err := <-r.done:
		r.done <- err
		return true
	default:
		return false
	}
}

// helperEnv marks the test binary re-run as a restart command (TestMain).
const helperEnv = "BKAGENT_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(restartHelper(mode))
	}
	os.Exit(m.Run())
}

// recorder keeps the child output lines logged, as "stream: line".
type recorder struct {
	mu  sync.Mutex
	got []string
}

func (r *recorder) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

type recHandler struct{ r *recorder }

func newRecLogger(r *recorder) *slog.Logger { return slog.New(recHandler{r}) }

func (h recHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h recHandler) WithGroup(string) slog.Handler            { return h }
func (h recHandler) Handle(_ context.Context, rec slog.Record) error {
	stream := ""
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "stream" {
			stream = a.Value.String()
		}
		return true
	})
	if stream != "" {
		h.r.mu.Lock()
		h.r.got = append(h.r.got, stream+": "+rec.Message)
		h.r.mu.Unlock()
	}
	return nil
}
