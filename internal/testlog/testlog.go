// Package testlog routes slog output to a test's log (t.Log), so tests show
// what the code under test logged, next to the failure, and only for failing
// or verbose runs. It is test plumbing; no production code imports it.
package testlog

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// writer forwards each log line to t.Log until the test ends (logging to a
// finished test panics, and goroutines may outlive it by a moment).
type writer struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// New returns a text logger at level writing to t.Log.
func New(t testing.TB, level slog.Level) *slog.Logger {
	w := &writer{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
