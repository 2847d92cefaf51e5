package orchestrator

import (
	"errors"
	"fmt"
	"time"

	"github.com/vmfleet/vmfleet/orchestrator/hostcmd"
)

// ErrInvalidOption is wrapped by every error an Option or a bad Config returns.
var ErrInvalidOption = errors.New("invalid option")

// ErrNotLeader is returned by mutating calls on an orchestrator that is not
// the leader; retry against the leader.
var ErrNotLeader = errors.New("not the leader")

// ErrStarting means the orchestrator has not loaded its build records yet; retry shortly.
var ErrStarting = errors.New("orchestrator is starting")

// ErrUnknownKey means no build record has the given key (see /api/v1/builds).
var ErrUnknownKey = errors.New("no build record with this key")

// ErrBuildLive means a build for the key is still live, so it cannot be retried.
var ErrBuildLive = errors.New("a build for this key is still live")

// ErrNoNATS means Run was called on an orchestrator made without a NATS
// connection (or a host command was to be sent without one).
var ErrNoNATS = hostcmd.ErrNoNATS

// errConflict is what a record store returns when a create or update lost a
// race to another writer (the key exists, or the revision moved on).
var errConflict = errors.New("build record changed concurrently")

// RateLimitError is returned for a Buildkite 429: the transport stops it, so
// go-buildkite's internal retry never runs. Reset is how long until the
// window resets (RateLimit-Reset), zero when the header was absent.
type RateLimitError struct {
	Reset     time.Duration
	Remaining string
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("buildkite rate limit: reset in %s", e.Reset)
}

// APIError is a Buildkite API answer outside 2xx (other than 429).
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("buildkite API: %d %s", e.Status, e.Message)
}

// mayHaveCreated reports whether a failed create might nonetheless have made
// a build: timeouts, network errors and 5xx. A 429 or another 4xx did not.
func mayHaveCreated(err error) bool {
	var rl *RateLimitError
	if errors.As(err, &rl) {
		return false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status >= 500
	}
	return err != nil
}

// ErrAgentAlreadyPaused is a Buildkite 422 "already paused": the pause is in
// force, which is what a pause wants.
var ErrAgentAlreadyPaused = errors.New("buildkite agent already paused")

// ErrAgentNotPaused is a Buildkite 422 "not paused": nothing to resume.
var ErrAgentNotPaused = errors.New("buildkite agent not paused")
