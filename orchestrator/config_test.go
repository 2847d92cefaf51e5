package orchestrator

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/hosts"
	"github.com/vmfleet/vmfleet/orchestrator/rollout"
)

func TestConfigErrorsNameTheKey(t *testing.T) {
	good := Config{Spec: events.Spec{Images: testImages()}}
	tests := []struct {
		name string
		mut  func(*Config)
		want string
	}{
		{name: "bad prefix", mut: func(c *Config) { c.Prefix = "a b" }, want: "subject_prefix"},
		{name: "bad instance", mut: func(c *Config) { c.Instance = "a.b" }, want: "instance"},
		{name: "no releases", mut: func(c *Config) { c.Spec.Images.Releases = nil }, want: "images.releases"},
		{name: "bad bun", mut: func(c *Config) { c.Spec.Images.BunVersion = "1-2" }, want: "images.bun_version"},
		{name: "bad window", mut: func(c *Config) {
			c.Spec.Cleanup.Windows = []events.Window{{Schedule: "every tuesday", Duration: events.Duration(time.Hour)}}
		}, want: "cleanup.windows"},
		{name: "bad registry ref", mut: func(c *Config) { c.Spec.Images.Registry = "ghcr.io/acme/x:{bun}#" }, want: "images.registry"},
		{name: "backoff max below base", mut: func(c *Config) { c.Builds.BackoffBase, c.Builds.BackoffMax = time.Hour, time.Minute }, want: "builds.backoff_max"},
		{name: "negative caps", mut: func(c *Config) { c.Builds.MaxBuilds = -1 }, want: "builds.max_concurrent"},
		{name: "confirm fraction above 1", mut: func(c *Config) { c.ConfirmNotReadyFraction = 1.5 }, want: "spec.confirm_not_ready_fraction"},
		{name: "negative confirm fraction", mut: func(c *Config) { c.ConfirmNotReadyFraction = -0.1 }, want: "spec.confirm_not_ready_fraction"},
		{name: "negative forget_after", mut: func(c *Config) { c.Hosts.ForgetAfter = -time.Hour }, want: "hosts.forget_after: -1h0m0s: must be at least 1m, e.g. 168h"},
		{name: "forget_after under a minute", mut: func(c *Config) { c.Hosts.ForgetAfter = time.Second }, want: "hosts.forget_after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			c.Spec.Images.Releases = append([]string(nil), good.Spec.Images.Releases...)
			tt.mut(&c)
			_, err := New(nil, nil, c)
			if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Got(New) = %v, want ErrInvalidOption naming %q", err, tt.want)
			}
		})
	}
	if _, err := New(nil, nil, good); err != nil {
		t.Errorf("Got(New(good)) = %v, want nil", err)
	}
}

func TestSameSpec(t *testing.T) {
	a := events.Spec{Images: testImages(), UpdatedAt: t0, UpdatedBy: "x"}
	b := events.Spec{Images: testImages(), Cleanup: events.CleanupPolicy{Windows: []events.Window{}}}
	b.Images.NameTemplate = ""
	if !rollout.SameSpec(a, b) {
		t.Errorf("Got(sameSpec of equal specs) = false, want true")
	}
	b.Images.Registry = "ghcr.io/acme/x:{release}"
	if rollout.SameSpec(a, b) {
		t.Errorf("Got(sameSpec with another registry) = true, want false")
	}
	enc, _ := events.Encode(events.TypeSpec, "/x", "current", "", t0, a)
	got, err := rollout.DecodeSpec(enc)
	if err != nil || !rollout.SameSpec(got, a) {
		t.Errorf("Got(rollout.DecodeSpec(envelope)) = %v, %v, want the spec", got, err)
	}
	if _, err := rollout.DecodeSpec([]byte(`{"images":{"releases":[]}}`)); err == nil {
		t.Errorf("Got(rollout.DecodeSpec(invalid)) = nil, want an error")
	}
}

// TestZeroConfigTakesDefaultConfig: a zero field takes DefaultConfig's value,
// so DefaultConfig is the one place the defaults are written.
func TestZeroConfigTakesDefaultConfig(t *testing.T) {
	got, err := Config{Spec: events.Spec{Images: testImages()}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.Spec = got.Spec
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("withDefaults of a zero Config (-want +got):\n%s", diff)
	}
}

func TestConfigMaxClockSkew(t *testing.T) {
	for _, d := range []time.Duration{-time.Second, time.Millisecond, 25 * time.Hour} {
		_, err := Config{Hosts: hosts.Config{MaxClockSkew: d}, Spec: events.Spec{Images: testImages()}}.withDefaults()
		if err == nil || !containsAll(err.Error(), "hosts.max_clock_skew", "e.g. 5m") {
			t.Errorf("Got(withDefaults(MaxClockSkew %s)) = %v, want an error naming hosts.max_clock_skew", d, err)
		}
	}
	c, err := Config{Spec: events.Spec{Images: testImages()}}.withDefaults()
	if err != nil || c.Hosts.MaxClockSkew != 5*time.Minute {
		t.Errorf("Got(default MaxClockSkew) = %s, %v, want 5m", c.Hosts.MaxClockSkew, err)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
