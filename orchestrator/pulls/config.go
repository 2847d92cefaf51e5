package pulls

import (
	"fmt"
	"time"
)

// Config is the pull commands' section of the orchestrator's config (keys
// pulls.*). Zero fields take DefaultConfig's.
type Config struct {
	// Concurrency caps pulls in flight fleet-wide (pulls.max_concurrent,
	// default 10); Timeout bounds one (pulls.timeout, default 2 h).
	Concurrency int
	Timeout     time.Duration
	// PerHost caps pulls in flight to one host (pulls.max_per_host,
	// default 1): the agent runs one pull at a time under its host lock,
	// so a second one sent to it would only wait there, holding a slot of
	// Concurrency that another host could pull with.
	PerHost int
	// BackoffBase doubles after every failed pull of an image on a host,
	// up to BackoffMax. They have no defaults here: the orchestrator gives
	// them the builds' (keys builds.backoff_base and builds.backoff_max).
	BackoffBase, BackoffMax time.Duration
}

// DefaultConfig is the pull commands' defaults.
func DefaultConfig() Config { return Config{Concurrency: 10, Timeout: 2 * time.Hour, PerHost: 1} }

// WithDefaults fills zero fields from DefaultConfig.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if c.Concurrency == 0 {
		c.Concurrency = d.Concurrency
	}
	if c.Timeout == 0 {
		c.Timeout = d.Timeout
	}
	if c.PerHost == 0 {
		c.PerHost = d.PerHost
	}
	return c
}

// Validate names the key of a field out of range.
func (c Config) Validate() error {
	switch {
	case c.Concurrency < 1:
		return fmt.Errorf("pulls.max_concurrent: %d: must be 1 or more", c.Concurrency)
	case c.PerHost < 1:
		return fmt.Errorf("pulls.max_per_host: %d: must be 1 or more", c.PerHost)
	case c.Timeout < 0:
		return fmt.Errorf("pulls.timeout: must not be negative")
	}
	return nil
}
