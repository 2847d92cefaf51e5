// Package backoff is the one exponential backoff the orchestrator uses:
// for build retries (orchestrator/builds) and for a host's pull and prune
// commands after a failure (orchestrator/hostcmd, wired by the core).
//
// It holds no state and reads no clock: callers count attempts and add the
// delay to their own clock.
package backoff

import "time"

// Exponential is base doubled for every attempt after the first, capped at
// maxD.
func Exponential(base, maxD time.Duration, attempt int) time.Duration {
	d := base
	for i := 1; i < attempt && d < maxD; i++ {
		d *= 2
	}
	return min(d, maxD)
}
