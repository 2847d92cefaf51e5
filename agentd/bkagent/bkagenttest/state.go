package bkagenttest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// State is the fake's state directory, seen from a test.
type State struct {
	t   testing.TB
	dir string
}

// NewState makes a state directory under t.TempDir().
func NewState(t testing.TB) *State {
	t.Helper()
	return &State{t: t, dir: t.TempDir()}
}

// Dir returns the state directory.
func (s *State) Dir() string { return s.dir }

// Env returns the environment entry pointing the fake at this directory.
func (s *State) Env() []string { return []string{EnvState + "=" + s.dir} }

// Hold keeps a job in progress running after the first SIGTERM, until Release.
func (s *State) Hold() { s.write(fileHold, "") }

// Release lets a held job finish.
func (s *State) Release() {
	s.t.Helper()
	if err := os.Remove(filepath.Join(s.dir, fileHold)); err != nil && !os.IsNotExist(err) {
		s.t.Fatalf("release: %v", err)
	}
}

// CrashAtStart makes the next n starts crash at once (exit 3).
func (s *State) CrashAtStart(n int) { s.write(fileCrash, strconv.Itoa(n)) }

// CrashNow makes the running fake crash (exit 2) before any SIGTERM.
func (s *State) CrashNow() { s.write(fileCrashNow, "") }

func (s *State) write(name, content string) {
	s.t.Helper()
	if err := os.WriteFile(filepath.Join(s.dir, name), []byte(content), 0o644); err != nil {
		s.t.Fatalf("fake buildkite-agent state: %v", err)
	}
}

// Event is one line of the events log: run number and kind.
type Event struct {
	Run  int
	Kind string
}

func (e Event) String() string { return strconv.Itoa(e.Run) + " " + e.Kind }

// Events returns the events log so far.
func (s *State) Events() []Event {
	b, _ := os.ReadFile(filepath.Join(s.dir, fileEvents))
	var out []Event
	for line := range strings.Lines(string(b)) {
		n, kind, ok := strings.Cut(strings.TrimSpace(line), " ")
		if r, err := strconv.Atoi(n); ok && err == nil {
			out = append(out, Event{Run: r, Kind: kind})
		}
	}
	return out
}

// Starts returns the recorded starts.
func (s *State) Starts() []Start {
	b, _ := os.ReadFile(filepath.Join(s.dir, fileStarts))
	var out []Start
	for line := range strings.Lines(string(b)) {
		var st Start
		if json.Unmarshal([]byte(line), &st) == nil {
			out = append(out, st)
		}
	}
	return out
}

// Has reports whether the log holds the event.
func Has(evs []Event, run int, kind string) bool {
	for _, e := range evs {
		if e.Run == run && e.Kind == kind {
			return true
		}
	}
	return false
}

// WaitFor polls the events log until cond holds, failing the test after
// timeout with what it saw.
func (s *State) WaitFor(what string, timeout time.Duration, cond func([]Event) bool) []Event {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		evs := s.Events()
		if cond(evs) {
			return evs
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("fake buildkite-agent: no %s within %s; events: %v", what, timeout, evs)
		}
		time.Sleep(poll)
	}
}
