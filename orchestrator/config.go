package orchestrator

import (
	"fmt"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
	"github.com/vmfleet/vmfleet/orchestrator/hosts"
	"github.com/vmfleet/vmfleet/orchestrator/lease"
	"github.com/vmfleet/vmfleet/orchestrator/rollout"
)

// Config is what the orchestrator needs besides its connections. Zero fields
// take DefaultConfig's.
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
	// PollInterval is how often a live build is polled when no webhook
	// arrives (default 30 s).
	PollInterval time.Duration
	// MaxPollsPerMinute caps those polls, the least recently polled first
	// (default 60: Buildkite allows an organization 200 REST requests a minute).
	MaxPollsPerMinute int
	// StaleHeartbeats: a host silent this many heartbeats is stale (default 3).
	StaleHeartbeats int
	// ForgetAfter: a host stale this long is forgotten (forget.go): purged
	// from the stream and the fleet state (key hosts.forget_after, default 7 days).
	ForgetAfter time.Duration
	// DefaultHeartbeat is used for hosts that do not say theirs (default 60 s).
	DefaultHeartbeat time.Duration
	// MaxClockSkew is how far ahead of when NATS stored it (and of the
	// orchestrator's clock) a health event's checked_at may be; an event
	// further ahead is rejected (clock_skew) and cannot hold back the host's
	// later reports (default 5 m, at least 1 s, at most 24 h; key
	// hosts.max_clock_skew).
	MaxClockSkew time.Duration
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
	// PullConcurrency caps pulls in flight fleet-wide (default 10);
	// PullTimeout bounds one (default 2 h).
	PullConcurrency int
	PullTimeout     time.Duration
	// PruneConcurrency caps prune commands in flight fleet-wide (default 10);
	// PruneTimeout bounds one (default 10 m: the agent deletes one VM at a
	// time, then checks).
	PruneConcurrency int
	PruneTimeout     time.Duration
	// RequestTimeout bounds one KV or command round trip (default 10 s).
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
	// AgentsInterval is how often the leader lists Buildkite's agents for the
	// drift check and the pause lever (default 1 m; negative: never).
	AgentsInterval time.Duration
	// DriftGrace is how long a host's agent tags may disagree with its report
	// before the host is flagged (default 5 m).
	DriftGrace time.Duration
	// Pause enables the pause lever (token scope write_agents); PauseTimeout
	// is each pause's Buildkite timeout, renewed at three quarters (default 30 m).
	Pause        bool
	PauseTimeout time.Duration
	// ConfirmNotReadyFraction is the share of non-stale hosts a spec set
	// or promote may make not ready without an explicit confirmation, in
	// (0,1] (default 0.10; key spec.confirm_not_ready_fraction).
	ConfirmNotReadyFraction float64
}

// DefaultConfig is the orchestrator's defaults: what a zero field of Config
// takes, and what cmd/vmfleet shows as each key's default. The build
// manager's come from builds.DefaultConfig, the lease TTL from lease.
func DefaultConfig() Config {
	bd := builds.DefaultConfig()
	return Config{
		Prefix: events.DefaultPrefix, Instance: "default", Replicas: 1, StaleHeartbeats: 3,
		Tick: 10 * time.Second, DefaultHeartbeat: 60 * time.Second, MaxClockSkew: 5 * time.Minute,
		MaxBuilds: bd.MaxBuilds, MaxBuildsPerHost: bd.MaxBuildsPerHost, MaxAttempts: bd.MaxAttempts,
		MaxPollsPerMinute: bd.MaxPollsPerMinute, PollInterval: bd.PollInterval,
		BackoffBase: bd.BackoffBase, BackoffMax: bd.BackoffMax, DoubtDelay: bd.DoubtDelay,
		PassedGrace: bd.PassedGrace, RequestTimeout: bd.RequestTimeout,
		PullConcurrency: 10, PullTimeout: 2 * time.Hour, PruneConcurrency: 10, PruneTimeout: 10 * time.Minute,
		LeaderTTL: lease.DefaultTTL, DrainTimeout: 10 * time.Second,
		AgentsInterval: time.Minute, DriftGrace: 5 * time.Minute, PauseTimeout: 30 * time.Minute,
		ConfirmNotReadyFraction: rollout.DefaultConfirmNotReadyFraction, ForgetAfter: 7 * 24 * time.Hour,
	}
}

func (c Config) withDefaults() (Config, error) {
	set := func(p *time.Duration, d time.Duration) {
		if *p == 0 {
			*p = d
		}
	}
	seti := func(p *int, d int) {
		if *p == 0 {
			*p = d
		}
	}
	d := DefaultConfig()
	if c.Prefix == "" {
		c.Prefix = d.Prefix
	}
	if c.Instance == "" {
		c.Instance = d.Instance
	}
	seti(&c.Replicas, d.Replicas)
	seti(&c.StaleHeartbeats, d.StaleHeartbeats)
	seti(&c.MaxBuilds, d.MaxBuilds)
	seti(&c.MaxBuildsPerHost, d.MaxBuildsPerHost)
	seti(&c.MaxAttempts, d.MaxAttempts)
	seti(&c.MaxPollsPerMinute, d.MaxPollsPerMinute)
	seti(&c.PullConcurrency, d.PullConcurrency)
	seti(&c.PruneConcurrency, d.PruneConcurrency)
	set(&c.Tick, d.Tick)
	set(&c.PollInterval, d.PollInterval)
	set(&c.DefaultHeartbeat, d.DefaultHeartbeat)
	set(&c.MaxClockSkew, d.MaxClockSkew)
	set(&c.BackoffBase, d.BackoffBase)
	set(&c.BackoffMax, d.BackoffMax)
	set(&c.DoubtDelay, d.DoubtDelay)
	set(&c.PassedGrace, d.PassedGrace)
	set(&c.PullTimeout, d.PullTimeout)
	set(&c.PruneTimeout, d.PruneTimeout)
	set(&c.RequestTimeout, d.RequestTimeout)
	set(&c.LeaderTTL, d.LeaderTTL)
	set(&c.DrainTimeout, d.DrainTimeout)
	set(&c.AgentsInterval, d.AgentsInterval)
	set(&c.DriftGrace, d.DriftGrace)
	set(&c.PauseTimeout, d.PauseTimeout)
	set(&c.ForgetAfter, d.ForgetAfter)
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
	for name, v := range map[string]int{
		"replicas": c.Replicas, "stale_heartbeats": c.StaleHeartbeats, "builds.max_concurrent": c.MaxBuilds,
		"builds.max_per_host": c.MaxBuildsPerHost, "builds.max_attempts": c.MaxAttempts, "pulls.max_concurrent": c.PullConcurrency,
		"prunes.max_concurrent": c.PruneConcurrency, "builds.max_polls_per_minute": c.MaxPollsPerMinute,
	} {
		if v < 1 {
			return bad(name, fmt.Sprintf("%d: must be 1 or more", v))
		}
	}
	if c.Pause && c.AgentsInterval < 0 {
		return bad("buildkite.pause", "needs the agents listing: set buildkite.agents_interval")
	}
	if c.Pause && (c.PauseTimeout < time.Minute || c.PauseTimeout > 7*24*time.Hour) {
		return bad("buildkite.pause_timeout", fmt.Sprintf("%s: must be between 1m and 168h (Buildkite's range)", c.PauseTimeout))
	}
	if c.Pause && c.PauseTimeout < 4*c.AgentsInterval {
		return bad("buildkite.pause_timeout", fmt.Sprintf("%s: must be at least 4 × buildkite.agents_interval (%s), so a pause is renewed before it lapses", c.PauseTimeout, c.AgentsInterval))
	}
	if f := c.ConfirmNotReadyFraction; !(f > 0 && f <= 1) {
		return bad("spec.confirm_not_ready_fraction", fmt.Sprintf("%v: must be a share of hosts in (0,1], e.g. 0.1", f))
	}
	if c.MaxClockSkew < time.Second || c.MaxClockSkew > 24*time.Hour {
		return bad("hosts.max_clock_skew", fmt.Sprintf("%s: must be between 1s and 24h, e.g. 5m", c.MaxClockSkew))
	}
	if c.ForgetAfter < time.Minute {
		return bad("hosts.forget_after", fmt.Sprintf("%s: must be at least 1m, e.g. 168h", c.ForgetAfter))
	}
	if c.BackoffMax < c.BackoffBase {
		return bad("builds.backoff_max", fmt.Sprintf("%s is less than builds.backoff_base %s", c.BackoffMax, c.BackoffBase))
	}
	for name, d := range map[string]time.Duration{
		"tick": c.Tick, "builds.poll_interval": c.PollInterval, "heartbeat": c.DefaultHeartbeat,
		"builds.backoff_base": c.BackoffBase, "builds.doubt_delay": c.DoubtDelay, "pulls.timeout": c.PullTimeout, "prunes.timeout": c.PruneTimeout,
		"buildkite.drift_grace": c.DriftGrace, "buildkite.pause_timeout": c.PauseTimeout,
	} {
		if d < 0 {
			return bad(name, "must not be negative")
		}
	}
	return nil
}

// buildsConfig is the build manager's section (keys builds.*).
func (c Config) buildsConfig() builds.Config {
	return builds.Config{
		PollInterval: c.PollInterval, MaxPollsPerMinute: c.MaxPollsPerMinute, MaxBuilds: c.MaxBuilds,
		MaxBuildsPerHost: c.MaxBuildsPerHost, MaxAttempts: c.MaxAttempts, BackoffBase: c.BackoffBase,
		BackoffMax: c.BackoffMax, DoubtDelay: c.DoubtDelay, PassedGrace: c.PassedGrace, RequestTimeout: c.RequestTimeout,
	}
}

// hostsConfig is the fleet state's section (package hosts).
func (c Config) hostsConfig() hosts.Config {
	return hosts.Config{StaleHeartbeats: c.StaleHeartbeats, DefaultHeartbeat: c.DefaultHeartbeat, MaxClockSkew: c.MaxClockSkew, ForgetAfter: c.ForgetAfter}
}

// ValidateSpec checks a spec the orchestrator would publish
// (rollout.ValidateSpec).
func ValidateSpec(s events.Spec) error { return rollout.ValidateSpec(s) }
