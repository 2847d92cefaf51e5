package fleetsim

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfigValidateNamesTheField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"no hosts", func(c *Config) { c.Hosts = 0 }, "hosts"},
		{"more missing than hosts", func(c *Config) { c.Missing = c.Hosts + 1 }, "missing"},
		{"negative busy", func(c *Config) { c.Busy = -1 }, "busy"},
		{"zero scale", func(c *Config) { c.Scale = 0 }, "scale"},
		{"scale above 1", func(c *Config) { c.Scale = 2 }, "scale"},
		{"unknown bump", func(c *Config) { c.Bump = "kernel" }, "bump"},
		{"unknown rollout", func(c *Config) { c.Rollout = "gradual" }, "rollout"},
		{"staged without a bump", func(c *Config) { c.Rollout, c.Bump = RolloutStaged, BumpNone }, "rollout"},
		{"staged with a window opening later", func(c *Config) { c.Rollout = RolloutStaged }, "window_after"},
		{"negative removal grace", func(c *Config) { c.RemovedGrace = -time.Second }, "removed_grace"},
		{"unknown prune", func(c *Config) { c.Prune = "sometimes" }, "prune"},
		{"no build cap", func(c *Config) { c.MaxBuilds = 0 }, "max_builds"},
		{"negative build time", func(c *Config) { c.BuildTime = -time.Second }, "build_time"},
		{"zero check interval", func(c *Config) { c.CheckInterval = 0 }, "check_interval"},
		{"no releases", func(c *Config) { c.Releases = nil }, "images.releases"},
		{"bad bun version", func(c *Config) { c.BunVersion = "1-2" }, "images.bun_version"},
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("Got(DefaultConfig().Validate()) = %v, want nil", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(&c)
			err := c.Validate()
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field) {
				t.Errorf("Got(Validate()) = %v, want ErrInvalidConfig naming %q", err, tt.field)
			}
		})
	}
}

func TestTimingsScaleWithFloors(t *testing.T) {
	t.Parallel()
	c := DefaultConfig()
	c.Scale = 0.001
	got := c.Timings()
	for _, tt := range []struct {
		name      string
		got, want time.Duration
	}{
		{"build: 20m × 0.001", got.Build, 1200 * time.Millisecond},
		{"pull: 5m × 0.001", got.Pull, 300 * time.Millisecond},
		{"check interval: 60 ms raised to agentd's 100 ms floor", got.CheckInterval, 100 * time.Millisecond},
		{"heartbeat: at least 1 s", got.Heartbeat, time.Second},
		{"tick: 10 ms raised to 20 ms", got.Tick, 20 * time.Millisecond},
		{"passed grace: at least 5 s", got.PassedGrace, 5 * time.Second},
	} {
		if tt.got != tt.want {
			t.Errorf("Got(%s) = %s, want %s", tt.name, tt.got, tt.want)
		}
	}
	if got, want := c.Fleet(3600*time.Millisecond), time.Hour; got != want {
		t.Errorf("Got(Fleet(3.6s)) = %s, want %s", got, want)
	}
}

func TestNextVersion(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"3.6": "3.7", "1.2.16": "1.2.17", "3.9": "3.10", "7": "8", "3.6b": "3.6b.1"} {
		if got := nextVersion(in); got != want {
			t.Errorf("Got(nextVersion(%q)) = %q, want %q", in, got, want)
		}
	}
}
