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
	// BackoffBase doubles after every failed pull of an image on a host,
	// up to BackoffMax. They have no defaults here: the orchestrator gives
	// them the builds' (keys builds.backoff_base and builds.backoff_max).
	BackoffBase, BackoffMax time.Duration
}

// DefaultConfig is the pull commands' defaults.
func DefaultConfig() Config { return Config{Concurrency: 10, Timeout: 2 * time.Hour} }

// WithDefaults fills zero fields from DefaultConfig.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if c.Concurrency == 0 {
		c.Concurrency = d.Concurrency
	}
	if c.Timeout == 0 {
		c.Timeout = d.Timeout
	}
	return c
}

// Validate names the key of a field out of range.
func (c Config) Validate() error {
	switch {
	case c.Concurrency < 1:
		return fmt.Errorf("pulls.max_concurrent: %d: must be 1 or more", c.Concurrency)
	case c.Timeout < 0:
		return fmt.Errorf("pulls.timeout: must not be negative")
	}
	return nil
}
