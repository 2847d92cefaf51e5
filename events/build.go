package events

import (
	"fmt"
	"time"
)

// BuildState is a build's lifecycle state (docs/events.md).
type BuildState string

// Build states.
const (
	BuildRequested BuildState = "requested"
	BuildScheduled BuildState = "scheduled"
	BuildRunning   BuildState = "running"
	BuildPassed    BuildState = "passed"
	BuildFailed    BuildState = "failed"
	BuildCanceled  BuildState = "canceled"
	BuildBlocked   BuildState = "blocked"
)

// Live reports whether a build in this state may still produce the image.
func (s BuildState) Live() bool {
	return s == BuildRequested || s == BuildScheduled || s == BuildRunning
}

// Valid reports whether s is a known state.
func (s BuildState) Valid() bool {
	switch s {
	case BuildRequested, BuildScheduled, BuildRunning, BuildPassed, BuildFailed, BuildCanceled, BuildBlocked:
		return true
	}
	return false
}

// BuildEvent is published on <prefix>.build.<release>.<state>.
type BuildEvent struct {
	Key     string     `json:"key"`
	Image   string     `json:"image"`
	Release string     `json:"release"`
	Host    string     `json:"host,omitempty"`
	State   BuildState `json:"state"`
	Number  int        `json:"number,omitempty"`
	URL     string     `json:"url,omitempty"`
	Attempt int        `json:"attempt"`
	Error   string     `json:"error,omitempty"`
	// NextAttempt is when a failed key will be retried.
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	At          time.Time `json:"at"`
}

// Validate checks a build event.
func (b BuildEvent) Validate() error {
	switch {
	case b.Key == "":
		return fieldErr("key", "missing")
	case !validValue(b.Release):
		return fieldErr("release", fmt.Sprintf("%q is not a release", b.Release))
	case !b.State.Valid():
		return fieldErr("state", fmt.Sprintf("unknown state %q", b.State))
	}
	return nil
}
