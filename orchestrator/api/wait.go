package api

import "time"

// Wait kinds (Wait.Kind).
const (
	// WaitQueued: the build or pull waits for a free slot under Cap
	// (builds.max_concurrent, builds.max_per_host, pulls.max_concurrent,
	// pulls.max_per_host: then Behind is the image the host is pulling),
	// Position of Of; or, with Cap buildkite_rate_limit, for Buildkite's
	// rate limit to end at Until.
	WaitQueued = "queued"
	// WaitBackoff: the last build or pull failed (Failures in a row,
	// Error); the next goes at Until.
	WaitBackoff = "backoff"
	// WaitBlocked: the build failed builds.max_attempts times; nothing
	// more is tried until `vmfleet build retry KEY`.
	WaitBlocked = "blocked"
)

// Wait says why a release missing its image on a host has nothing in
// flight, with Text saying it for people.
type Wait struct {
	Kind string `json:"kind"`
	// What is "build" or "pull"; Key is the build record's key.
	What     string    `json:"what"`
	Key      string    `json:"key,omitempty"`
	Cap      string    `json:"cap,omitempty"`
	Limit    int       `json:"limit,omitempty"`
	Position int       `json:"position,omitempty"`
	Of       int       `json:"of,omitempty"`
	Since    time.Time `json:"since,omitzero"`
	Until    time.Time `json:"until,omitzero"`
	Failures int       `json:"failures,omitempty"`
	Error    string    `json:"error,omitempty"`
	// Behind is what in flight holds a pull queued under
	// pulls.max_per_host back: the image of the host's pull.
	Behind string `json:"behind,omitempty"`
	Text   string `json:"text"`
}

// HostDetail is GET /api/v1/hosts/{host}: the host's view with its last
// report (Health) and cleanup view (Prune), and per release the state the
// dashboard shows, with the build or pull behind it and why nothing is in
// flight (Cells).
type HostDetail struct {
	HostView
	Cells []Cell `json:"cells"`
}
