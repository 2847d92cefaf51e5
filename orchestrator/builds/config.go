package builds

import "time"

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
	// RequestTimeout bounds one KV round trip (default 10 s).
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

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
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
