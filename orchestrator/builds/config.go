package builds

import (
	"fmt"
	"time"
)

// Config is the build manager's section of the orchestrator's config (keys
// builds.*). Zero fields take DefaultConfig's.
type Config struct {
	// PollInterval is how often a live build is polled when no webhook
	// arrives (default 30 s).
	PollInterval time.Duration
	// MaxPollsPerMinute caps those polls, the least recently polled first
	// (default 60: Buildkite allows an organization 200 REST requests a minute).
	MaxPollsPerMinute int
	// MaxBuilds caps live builds fleet-wide (default 10); MaxBuildsPerHost caps
	// live builds pinned to one host (default 1).
	MaxBuilds        int
	MaxBuildsPerHost int
	// MaxAttempts failed builds make a key blocked (default 5).
	MaxAttempts int
	// BackoffBase doubles after every failed attempt up to BackoffMax
	// (defaults 1 m and 1 h).
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// DoubtDelay is how long after a create that may have gone through (5xx,
	// timeout) Buildkite is asked whether it did (default 30 s).
	DoubtDelay time.Duration
	// PassedGrace: in host mode, a passed build whose host still lacks the
	// image this long after is counted as a failed attempt (default 10 m).
	PassedGrace time.Duration
	// RequestTimeout bounds one KV round trip (default 10 s; the
	// orchestrator gives it its own).
	RequestTimeout time.Duration
}

// DefaultConfig is the build manager's defaults.
func DefaultConfig() Config {
	return Config{
		PollInterval: 30 * time.Second, MaxPollsPerMinute: 60, MaxBuilds: 10, MaxBuildsPerHost: 1, MaxAttempts: 5,
		BackoffBase: time.Minute, BackoffMax: time.Hour, DoubtDelay: 30 * time.Second, PassedGrace: 10 * time.Minute,
		RequestTimeout: 10 * time.Second,
	}
}

// WithDefaults fills zero fields from DefaultConfig.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	set := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	seti := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	set(&c.PollInterval, d.PollInterval)
	seti(&c.MaxPollsPerMinute, d.MaxPollsPerMinute)
	seti(&c.MaxBuilds, d.MaxBuilds)
	seti(&c.MaxBuildsPerHost, d.MaxBuildsPerHost)
	seti(&c.MaxAttempts, d.MaxAttempts)
	set(&c.BackoffBase, d.BackoffBase)
	set(&c.BackoffMax, d.BackoffMax)
	set(&c.DoubtDelay, d.DoubtDelay)
	set(&c.PassedGrace, d.PassedGrace)
	set(&c.RequestTimeout, d.RequestTimeout)
	return c
}

// Validate names the key (builds.*) of a field out of range.
func (c Config) Validate() error {
	for _, f := range []struct {
		key string
		v   int
	}{{"builds.max_concurrent", c.MaxBuilds}, {"builds.max_per_host", c.MaxBuildsPerHost},
		{"builds.max_attempts", c.MaxAttempts}, {"builds.max_polls_per_minute", c.MaxPollsPerMinute}} {
		if f.v < 1 {
			return fmt.Errorf("%s: %d: must be 1 or more", f.key, f.v)
		}
	}
	if c.BackoffMax < c.BackoffBase {
		return fmt.Errorf("builds.backoff_max: %s is less than builds.backoff_base %s", c.BackoffMax, c.BackoffBase)
	}
	for _, f := range []struct {
		key string
		d   time.Duration
	}{{"builds.poll_interval", c.PollInterval}, {"builds.backoff_base", c.BackoffBase}, {"builds.doubt_delay", c.DoubtDelay}} {
		if f.d < 0 {
			return fmt.Errorf("%s: must not be negative", f.key)
		}
	}
	return nil
}
