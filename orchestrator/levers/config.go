package levers

import (
	"fmt"
	"time"
)

// Config is the levers' section of the orchestrator's config (keys
// buildkite.agents_interval, drift_grace, pause, pause_timeout). Zero
// fields take DefaultConfig's.
type Config struct {
	// Interval is how often the leader lists Buildkite's agents for the
	// drift check and the pause lever (default 1 m; negative: never).
	Interval time.Duration
	// DriftGrace is how long a host's agent tags may disagree with its
	// report before the host is flagged (default 5 m).
	DriftGrace time.Duration
	// Pause enables the pause lever (token scope write_agents); PauseTimeout
	// is each pause's Buildkite timeout, renewed at three quarters (default 30 m).
	Pause        bool
	PauseTimeout time.Duration
}

// DefaultConfig is the levers' defaults.
func DefaultConfig() Config {
	return Config{Interval: time.Minute, DriftGrace: 5 * time.Minute, PauseTimeout: 30 * time.Minute}
}

// WithDefaults fills zero fields from DefaultConfig.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	for _, p := range []struct{ v, d *time.Duration }{{&c.Interval, &d.Interval}, {&c.DriftGrace, &d.DriftGrace}, {&c.PauseTimeout, &d.PauseTimeout}} {
		if *p.v == 0 {
			*p.v = *p.d
		}
	}
	return c
}

// Validate names the key of a field out of range.
func (c Config) Validate() error {
	switch {
	case c.Pause && c.Interval < 0:
		return fmt.Errorf("buildkite.pause: needs the agents listing: set buildkite.agents_interval")
	case c.Pause && (c.PauseTimeout < time.Minute || c.PauseTimeout > 7*24*time.Hour):
		return fmt.Errorf("buildkite.pause_timeout: %s: must be between 1m and 168h (Buildkite's range)", c.PauseTimeout)
	case c.Pause && c.PauseTimeout < 4*c.Interval:
		return fmt.Errorf("buildkite.pause_timeout: %s: must be at least 4 × buildkite.agents_interval (%s), so a pause is renewed before it lapses", c.PauseTimeout, c.Interval)
	case c.DriftGrace < 0:
		return fmt.Errorf("buildkite.drift_grace: must not be negative")
	case c.PauseTimeout < 0:
		return fmt.Errorf("buildkite.pause_timeout: must not be negative")
	}
	return nil
}
