package buildkite

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// ErrInvalidOption is wrapped by every error New returns for a bad Config.
var ErrInvalidOption = errors.New("invalid option")

// RateLimitError is returned for a Buildkite 429: the transport stops it, so
// go-buildkite's internal retry never runs. Reset is how long until the
// window resets (RateLimit-Reset), zero when the header was absent. Until
// then every call of the same Client returns one at once, Held, without
// reaching Buildkite.
type RateLimitError struct {
	Reset     time.Duration
	Remaining string
	// Held says the call was not made: an earlier 429's reset is still ahead.
	Held bool
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

// MayHaveCreated reports whether a failed create might nonetheless have made
// a build: timeouts, network errors and 5xx. A 429 or another 4xx did not.
func MayHaveCreated(err error) bool {
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

// CannotCancel reports whether a failed cancel is Buildkite's final word:
// 404 (no such build) or 422 (the build cannot be canceled: it finished).
// Asking again would get the same answer.
func CannotCancel(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && (ae.Status == http.StatusNotFound || ae.Status == http.StatusUnprocessableEntity)
}

// ErrAgentAlreadyPaused is a Buildkite 422 "already paused": the pause is in
// force, which is what a pause wants.
var ErrAgentAlreadyPaused = errors.New("buildkite agent already paused")

// ErrAgentNotPaused is a Buildkite 422 "not paused": nothing to resume.
var ErrAgentNotPaused = errors.New("buildkite agent not paused")
