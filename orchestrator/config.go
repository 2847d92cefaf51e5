package orchestrator

import (
	"fmt"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
	"github.com/vmfleet/vmfleet/orchestrator/hosts"
	"github.com/vmfleet/vmfleet/orchestrator/lease"
	"github.com/vmfleet/vmfleet/orchestrator/levers"
	"github.com/vmfleet/vmfleet/orchestrator/prunes"
	"github.com/vmfleet/vmfleet/orchestrator/pulls"
	"github.com/vmfleet/vmfleet/orchestrator/rollout"
)

// Config is what the orchestrator needs besides its connections. Zero fields
// take DefaultConfig's; each room's section, its own package's defaults.
type Config struct {
	// Prefix is the subject prefix (default "vmfleet").
	Prefix string
	// Instance names this orchestrator's durable consumer
	// ("orchestrator-<instance>"); each orchestrator needs its own.
	Instance string
	// Replicas of the stream and buckets (default 1).
	Replicas int
	// Spec is the desired state published to KV at start when it differs.
	Spec events.Spec
	// Tick is the full reconcile interval (default 10 s).
	Tick time.Duration
	// Hosts is the fleet state's section: staleness, the clock skew
	// allowed, forgetting (package hosts).
	Hosts hosts.Config
	// Builds is the build manager's section (keys builds.*). Its
	// BackoffBase and BackoffMax are the pulls' and the prunes' too, unless
	// those sections set their own.
	Builds builds.Config
	// Pulls and Prunes are the host commands' sections (keys pulls.*,
	// prunes.*).
	Pulls  pulls.Config
	Prunes prunes.Config
	// Levers is the drift check's and the pause lever's section (keys
	// buildkite.agents_interval, drift_grace, pause, pause_timeout).
	Levers levers.Config
	// RequestTimeout bounds one KV or command round trip (default 10 s);
	// the build manager's too, unless Builds sets its own.
	RequestTimeout time.Duration
	// DrainTimeout bounds the wait at shutdown for work in flight (Buildkite
	// calls, pull and prune replies) before the lease is handed back
	// (default 10 s).
	DrainTimeout time.Duration
	// LeaderTTL is the lease bucket's TTL (default 15 s).
	LeaderTTL time.Duration
	// WebhookSecret verifies X-Buildkite-Signature; WebhookToken is accepted
	// in X-Buildkite-Token. With neither, the webhook endpoint answers 404.
	WebhookSecret string
	WebhookToken  string
	// APIToken is the bearer token mutating endpoints require; without it
	// they answer 403.
	APIToken string
	// APIReadToken, when set, is required (or APIToken) by the read API;
	// /healthz, /readyz and the webhook stay open, /metrics too unless
	// MetricsAuth.
	APIReadToken string
	MetricsAuth  bool
	// ConfirmNotReadyFraction is the share of non-stale hosts a spec set
	// or promote may make not ready without an explicit confirmation, in
	// (0,1] (default 0.10; key spec.confirm_not_ready_fraction).
	ConfirmNotReadyFraction float64
}

// DefaultConfig is the orchestrator's defaults: what a zero field of Config
// takes, and what cmd/vmfleet shows as each key's default. The sections'
// come from their packages, the lease TTL from lease.
func DefaultConfig() Config {
	c := Config{
		Prefix: events.DefaultPrefix, Instance: "default", Replicas: 1, Tick: 10 * time.Second,
		Hosts: hosts.DefaultConfig(), Builds: builds.DefaultConfig(), Pulls: pulls.DefaultConfig(),
		Prunes: prunes.DefaultConfig(), Levers: levers.DefaultConfig(),
		RequestTimeout: builds.DefaultConfig().RequestTimeout, LeaderTTL: lease.DefaultTTL, DrainTimeout: 10 * time.Second,
		ConfirmNotReadyFraction: rollout.DefaultConfirmNotReadyFraction,
	}
	c.shareBackoff()
	return c
}

// shareBackoff gives the pulls' and the prunes' zero backoff the builds'
// (keys builds.backoff_base and builds.backoff_max serve all three).
func (c *Config) shareBackoff() {
	for _, p := range []struct{ v, d *time.Duration }{{&c.Pulls.BackoffBase, &c.Builds.BackoffBase},
		{&c.Pulls.BackoffMax, &c.Builds.BackoffMax}, {&c.Prunes.BackoffBase, &c.Builds.BackoffBase}, {&c.Prunes.BackoffMax, &c.Builds.BackoffMax}} {
		if *p.v == 0 {
			*p.v = *p.d
		}
	}
}

func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	if c.Prefix == "" {
		c.Prefix = d.Prefix
	}
	if c.Instance == "" {
		c.Instance = d.Instance
	}
	if c.Replicas == 0 {
		c.Replicas = d.Replicas
	}
	for _, p := range []struct{ v, d *time.Duration }{{&c.Tick, &d.Tick}, {&c.RequestTimeout, &d.RequestTimeout},
		{&c.LeaderTTL, &d.LeaderTTL}, {&c.DrainTimeout, &d.DrainTimeout}, {&c.Builds.RequestTimeout, &c.RequestTimeout}} {
		if *p.v == 0 {
			*p.v = *p.d
		}
	}
	c.Hosts, c.Builds, c.Levers = c.Hosts.WithDefaults(), c.Builds.WithDefaults(), c.Levers.WithDefaults()
	c.Pulls, c.Prunes = c.Pulls.WithDefaults(), c.Prunes.WithDefaults()
	c.shareBackoff()
	if c.ConfirmNotReadyFraction == 0 {
		c.ConfirmNotReadyFraction = d.ConfirmNotReadyFraction
	}
	if c.Spec.Images.NameTemplate == "" {
		c.Spec.Images.NameTemplate = events.DefaultNameTemplate
	}
	return c, c.validate()
}

func (c Config) validate() error {
	bad := func(key, why string) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidOption, key, why)
	}
	if _, err := events.NewSubjects(c.Prefix); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	if !events.ValidToken(c.Instance) {
		return bad("instance", fmt.Sprintf("%q: use letters, digits, '-' or '_'", c.Instance))
	}
	if err := ValidateSpec(c.Spec); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	if c.Replicas < 1 {
		return bad("replicas", fmt.Sprintf("%d: must be 1 or more", c.Replicas))
	}
	if f := c.ConfirmNotReadyFraction; !(f > 0 && f <= 1) {
		return bad("spec.confirm_not_ready_fraction", fmt.Sprintf("%v: must be a share of hosts in (0,1], e.g. 0.1", f))
	}
	if c.Tick < 0 {
		return bad("tick", "must not be negative")
	}
	for _, err := range []error{c.Hosts.Validate(), c.Builds.Validate(), c.Pulls.Validate(), c.Prunes.Validate(), c.Levers.Validate()} {
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidOption, err)
		}
	}
	return nil
}

// ValidateSpec checks a spec the orchestrator would publish
// (rollout.ValidateSpec).
func ValidateSpec(s events.Spec) error { return rollout.ValidateSpec(s) }
