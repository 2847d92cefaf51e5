package agentd

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

func TestConfigErrorsNameTheKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mod  func(*Config)
		key  string
	}{
		{"empty release", func(c *Config) { c.Images.Releases = []string{"14", ""} }, "images.releases[1]"},
		{"bad bootstrap", func(c *Config) { c.Images.BootstrapVersion = "3-6" }, "images.bootstrap_version"},
		{"bad template", func(c *Config) { c.Images.NameTemplate = "macos-{release}" }, "images.name_template"},
		{"relative tart home", func(c *Config) { c.TartHome = "tart" }, "tart.home"},
		{"relative state dir", func(c *Config) { c.StateDir = "state" }, "state_dir"},
		{"negative interval", func(c *Config) { c.Interval = -time.Second }, "check.interval"},
		{"tiny interval", func(c *Config) { c.Interval = time.Millisecond }, "check.interval"},
		{"bad schedule", func(c *Config) { c.Schedule = "every minute" }, "check.schedule"},
		{"bad zone", func(c *Config) { c.Schedule = "CRON_TZ=Mars/Olympus" }, "check.schedule"},
		{"negative timeout", func(c *Config) { c.TartTimeout = -1 }, "tart.timeout"},
		{"bad prefix", func(c *Config) { c.SubjectPrefix = "vm fleet" }, "nats.subject_prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t)
			tt.mod(&cfg)
			_, err := New(cfg, tarttest.NewFake(""))
			var fe *events.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.key {
				t.Fatalf("Got(New) error = %v, want a FieldError naming %s", err, tt.key)
			}
			if !errors.Is(err, events.ErrInvalid) || !strings.Contains(err.Error(), tt.key) {
				t.Errorf("Got(error) = %v, want it to match ErrInvalid and name %s", err, tt.key)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	a := newAgent(t, Config{Hostname: "h", TartHome: t.TempDir(), StateDir: t.TempDir()}, tarttest.NewFake(""))
	c := a.Config()
	spec := events.DefaultImageSpec()
	if c.Images.ImageName("14") != spec.ImageName("14") || len(c.Images.Releases) != 1 {
		t.Errorf("Got(default spec) = %+v, want the seed's (release 14, bun 1.2.16, bootstrap 3.6)", c.Images)
	}
	if c.Interval != time.Minute || c.Heartbeat != time.Minute || c.TartTimeout != DefaultTartTimeout || c.PullTimeout != DefaultPullTimeout || c.AgentName != "h" {
		t.Errorf("Got(defaults) = %+v", c)
	}
	if got := a.Host(); got != "h" {
		t.Errorf("Got(Host) = %q, want h", got)
	}
}
