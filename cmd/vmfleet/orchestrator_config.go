package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
	"github.com/vmfleet/vmfleet/orchestrator"
	"github.com/vmfleet/vmfleet/orchestrator/buildkite"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
	"github.com/vmfleet/vmfleet/orchestrator/hosts"
	"github.com/vmfleet/vmfleet/orchestrator/levers"
	"github.com/vmfleet/vmfleet/orchestrator/prunes"
	"github.com/vmfleet/vmfleet/orchestrator/pulls"
)

// orchestratorConfigEnv names the orchestrator's config file.
const orchestratorConfigEnv = "VMFLEET_ORCHESTRATOR_CONFIG"

// orchestratorConfig is `vmfleet orchestrator`'s configuration
// (docs/configuration.md, section `vmfleet orchestrator`).
type orchestratorConfig struct {
	Instance     string        `yaml:"instance" flag:"instance" env:"VMFLEET_INSTANCE" help:"this orchestrator's name: its lease id and its durable consumer orchestrator-<instance> (default: the host name and the process id)"`
	HTTPAddr     string        `yaml:"http_addr" flag:"http-addr" env:"VMFLEET_HTTP_ADDR" help:"host:port of the read API, /metrics and the Buildkite webhook"`
	APIToken     secret        `yaml:"-" flag:"-" env:"VMFLEET_API_TOKEN" help:"bearer token of mutating endpoints (env only; or api_token_file)"`
	APITokenFile string        `yaml:"api_token_file" flag:"api-token-file" env:"VMFLEET_API_TOKEN_FILE" help:"file holding the bearer token mutating endpoints require (without one they answer 403)"`
	Tick         time.Duration `yaml:"tick" flag:"tick" env:"VMFLEET_TICK" help:"interval of full reconcile passes"`
	Heartbeat    time.Duration `yaml:"default_heartbeat" flag:"default-heartbeat" env:"VMFLEET_DEFAULT_HEARTBEAT" help:"heartbeat assumed for hosts that do not report theirs"`
	LeaseTTL     time.Duration `yaml:"lease_ttl" flag:"lease-ttl" env:"VMFLEET_LEASE_TTL" help:"leader lease TTL: a crashed leader is replaced within 2 TTL; the KV bucket's TTL (set by whoever creates it) wins when shorter"`
	DrainTimeout time.Duration `yaml:"drain_timeout" flag:"drain-timeout" env:"VMFLEET_DRAIN_TIMEOUT" help:"at shutdown, how long to wait for builds and commands in flight before handing the lease back"`
	Images       orchImages    `yaml:"images"`
	Cleanup      orchCleanup   `yaml:"cleanup"`
	Spec         orchSpec      `yaml:"spec"`
	NATS         orchNATS      `yaml:"nats"`
	Buildkite    orchBuildkite `yaml:"buildkite"`
	Builds       orchBuilds    `yaml:"builds"`
	Pulls        orchPulls     `yaml:"pulls"`
	Prunes       orchPrunes    `yaml:"prunes"`
	Hosts        orchHosts     `yaml:"hosts"`
	Webhook      orchWebhook   `yaml:"webhook"`

	APIReadToken     secret `yaml:"-" flag:"-" env:"VMFLEET_API_READ_TOKEN" help:"bearer token the read API requires (env only; or api_read_token_file)"`
	APIReadTokenFile string `yaml:"api_read_token_file" flag:"api-read-token-file" env:"VMFLEET_API_READ_TOKEN_FILE" help:"file holding the bearer token GET /api/v1/... requires (the API token is accepted too; empty: reads are open)"`
	MetricsAuth      bool   `yaml:"metrics_auth" flag:"metrics-auth" env:"VMFLEET_METRICS_AUTH" help:"make /metrics require the read token as well"`
}

type orchImages struct {
	NameTemplate     string   `yaml:"name_template" flag:"name-template" env:"VMFLEET_NAME_TEMPLATE" help:"image name template with {release}, {bun} and {bootstrap}"`
	Releases         []string `yaml:"releases" flag:"release" env:"VMFLEET_RELEASES" help:"macOS releases every host must have (repeat, or comma separated)"`
	BunVersion       string   `yaml:"bun_version" flag:"bun-version" env:"VMFLEET_BUN_VERSION" help:"bun version of the images"`
	BootstrapVersion string   `yaml:"bootstrap_version" flag:"bootstrap-version" env:"VMFLEET_BOOTSTRAP_VERSION" help:"bootstrap version of the images"`
	Registry         string   `yaml:"registry" flag:"registry" env:"VMFLEET_REGISTRY" help:"OCI reference template images are pushed to and pulled from (empty: built on each host)"`
}

type orchCleanup struct {
	KeepBunVersions        int           `yaml:"keep_bun_versions" flag:"keep-bun-versions" env:"VMFLEET_KEEP_BUN_VERSIONS" help:"newest bun versions kept per release"`
	DiskEmergencyFreeBytes int64         `yaml:"disk_emergency_free_bytes" flag:"disk-emergency-free-bytes" env:"VMFLEET_DISK_EMERGENCY_FREE_BYTES" help:"free bytes under which a host may prune outside windows (0: never)"`
	Windows                windowsList   `yaml:"windows" example:"[{schedule: \"0 2 * * *\", duration: 2h}]" flag:"cleanup-window" env:"VMFLEET_CLEANUP_WINDOWS" help:"cleanup windows, \"CRON=DURATION\" separated by ';' (file: a list of {schedule, duration})"`
	RemovedGrace           time.Duration `yaml:"removed_grace" flag:"removed-grace" env:"VMFLEET_REMOVED_GRACE" help:"how long images that left every active spec are kept after the change that removed them (0: 24h)"`
	MaxPruneHostsFraction  float64       `yaml:"max_prune_hosts_fraction" flag:"max-prune-hosts-fraction" env:"VMFLEET_MAX_PRUNE_HOSTS_FRACTION" help:"share of non-stale hosts that may be sent a prune in one cleanup window (0: 0.25)"`
}

// orchSpec is how the orchestrator guards operators' spec changes.
type orchSpec struct {
	ConfirmNotReadyFraction float64 `yaml:"confirm_not_ready_fraction" flag:"confirm-not-ready-fraction" env:"VMFLEET_CONFIRM_NOT_READY_FRACTION" help:"share of non-stale hosts a spec set or promote may make not ready without an explicit confirmation (--yes), in (0,1]"`
}

// orchNATS is the shared connection section and the embedded server's keys.
type orchNATS struct {
	NATSConn     `yaml:",inline"`
	Listen       string     `yaml:"listen" flag:"nats-listen" env:"VMFLEET_NATS_LISTEN" help:"host:port the embedded nats-server listens on for agents"`
	DataDir      string     `yaml:"data_dir" flag:"data-dir" env:"VMFLEET_DATA_DIR" help:"the embedded nats-server's JetStream store"`
	ServerConfig string     `yaml:"server_config" flag:"nats-server-config" env:"VMFLEET_NATS_SERVER_CONFIG" help:"nats-server config file for the embedded server (auth, TLS; see vmfleet nats-config)"`
	Replicas     int        `yaml:"replicas" flag:"replicas" env:"VMFLEET_REPLICAS" help:"replicas of the VMFLEET stream and KV buckets (3 on a cluster)"`
	Stream       orchStream `yaml:"stream"`
}

// orchStream are the limits of stream VMFLEET (set at every start, also on
// an existing stream).
type orchStream struct {
	MaxAge            time.Duration `yaml:"max_age" flag:"stream-max-age" env:"VMFLEET_STREAM_MAX_AGE" help:"how long stream VMFLEET keeps an event"`
	MaxBytes          int64         `yaml:"max_bytes" flag:"stream-max-bytes" env:"VMFLEET_STREAM_MAX_BYTES" help:"bytes stream VMFLEET stores at most (the oldest events go first)"`
	MaxMsgsPerSubject int64         `yaml:"max_msgs_per_subject" flag:"stream-max-msgs-per-subject" env:"VMFLEET_STREAM_MAX_MSGS_PER_SUBJECT" help:"events kept per subject: one host keeps only its latest N health events"`
	MaxMsgSize        int64         `yaml:"max_msg_size" flag:"stream-max-msg-size" env:"VMFLEET_STREAM_MAX_MSG_SIZE" help:"bytes of one stored event at most; larger ones are refused"`
}

// limits checks the section and returns the stream limits.
func (s orchStream) limits() (bus.StreamLimits, error) {
	switch {
	case s.MaxAge < time.Minute:
		return bus.StreamLimits{}, fmt.Errorf("%w: nats.stream.max_age %s: want at least 1m, e.g. 168h", cliconfig.ErrConfig, s.MaxAge)
	case s.MaxBytes < 1<<20:
		return bus.StreamLimits{}, fmt.Errorf("%w: nats.stream.max_bytes %d: want at least 1048576 (1 MiB), e.g. 4294967296", cliconfig.ErrConfig, s.MaxBytes)
	case s.MaxMsgsPerSubject < 1:
		return bus.StreamLimits{}, fmt.Errorf("%w: nats.stream.max_msgs_per_subject %d: want at least 1, e.g. 1000", cliconfig.ErrConfig, s.MaxMsgsPerSubject)
	case s.MaxMsgSize < 4<<10 || s.MaxMsgSize > 64<<20:
		return bus.StreamLimits{}, fmt.Errorf("%w: nats.stream.max_msg_size %d: want 4096 to 67108864, e.g. %d", cliconfig.ErrConfig, s.MaxMsgSize, bus.StreamMaxMsgSize)
	}
	return bus.StreamLimits{MaxAge: s.MaxAge, MaxBytes: s.MaxBytes, MaxMsgsPerSubject: s.MaxMsgsPerSubject, MaxMsgSize: int32(s.MaxMsgSize)}, nil
}

// ConfigHelp implements cliconfig.Helper: the orchestrator's wording of the
// shared NATS keys.
func (orchestratorConfig) ConfigHelp() map[string]string {
	return map[string]string{
		"nats.urls":           "NATS cluster URLs (repeat or comma separated); empty: start an embedded nats-server",
		"nats.nkey_seed_file": "file holding the orchestrator's NKey seed",
	}
}

type orchBuildkite struct {
	APIURL    string        `yaml:"api_url" flag:"buildkite-api-url" env:"VMFLEET_BUILDKITE_API_URL" help:"Buildkite REST API base URL (a proxy or a fake may stand in)"`
	Org       string        `yaml:"org" flag:"buildkite-org" env:"VMFLEET_BUILDKITE_ORG,BUILDKITE_ORGANIZATION_SLUG" help:"Buildkite organization slug (empty: no builds)"`
	Pipeline  string        `yaml:"pipeline" flag:"buildkite-pipeline" env:"VMFLEET_BUILDKITE_PIPELINE" help:"pipeline that builds VM images"`
	Branch    string        `yaml:"branch" flag:"build-branch" env:"VMFLEET_BUILD_BRANCH" help:"branch of the builds"`
	Commit    string        `yaml:"commit" flag:"build-commit" env:"VMFLEET_BUILD_COMMIT" help:"commit of the builds"`
	Token     secret        `yaml:"-" flag:"-" env:"BUILDKITE_API_TOKEN" help:"Buildkite API token (env only; or token_file)"`
	TokenFile string        `yaml:"token_file" flag:"buildkite-token-file" env:"VMFLEET_BUILDKITE_TOKEN_FILE" help:"file holding the Buildkite API token (read_builds, write_builds; read_agents for the drift check, write_agents for pause)"`
	Timeout   time.Duration `yaml:"timeout" flag:"buildkite-timeout" env:"VMFLEET_BUILDKITE_TIMEOUT" help:"deadline of one Buildkite API request"`

	AgentsInterval time.Duration `yaml:"agents_interval" flag:"buildkite-agents-interval" env:"VMFLEET_BUILDKITE_AGENTS_INTERVAL" help:"how often the leader lists Buildkite's agents for the drift check and the pause lever (token scope read_agents; 0: never)"`
	DriftGrace     time.Duration `yaml:"drift_grace" flag:"drift-grace" env:"VMFLEET_DRIFT_GRACE" help:"how long a host's agent tags may disagree with its report before the host is flagged"`
	Pause          bool          `yaml:"pause" flag:"buildkite-pause" env:"VMFLEET_BUILDKITE_PAUSE" help:"lever pause: pause the agents of hosts ready for no release, resume them once ready (token scope write_agents; only where VM builds run on their own queue)"`
	PauseTimeout   time.Duration `yaml:"pause_timeout" flag:"buildkite-pause-timeout" env:"VMFLEET_BUILDKITE_PAUSE_TIMEOUT" help:"Buildkite timeout of each pause, renewed at three quarters (1m to 168h)"`
}

type orchBuilds struct {
	MaxConcurrent int           `yaml:"max_concurrent" flag:"max-builds" env:"VMFLEET_MAX_BUILDS" help:"live builds fleet-wide"`
	MaxPerHost    int           `yaml:"max_per_host" flag:"max-builds-per-host" env:"VMFLEET_MAX_BUILDS_PER_HOST" help:"live builds pinned to one host"`
	MaxAttempts   int           `yaml:"max_attempts" flag:"max-attempts" env:"VMFLEET_MAX_ATTEMPTS" help:"failed builds after which a key is blocked"`
	BackoffBase   time.Duration `yaml:"backoff_base" flag:"backoff-base" env:"VMFLEET_BACKOFF_BASE" help:"wait after the first failure, doubling after each"`
	BackoffMax    time.Duration `yaml:"backoff_max" flag:"backoff-max" env:"VMFLEET_BACKOFF_MAX" help:"longest wait between attempts"`
	PollInterval  time.Duration `yaml:"poll_interval" flag:"poll-interval" env:"VMFLEET_POLL_INTERVAL" help:"how often a live build is polled (webhook fallback)"`
	MaxPolls      int           `yaml:"max_polls_per_minute" flag:"max-polls-per-minute" env:"VMFLEET_MAX_POLLS_PER_MINUTE" help:"cap on those polls, least recently polled first (Buildkite allows an organization 200 REST requests a minute)"`
	DoubtDelay    time.Duration `yaml:"doubt_delay" flag:"doubt-delay" env:"VMFLEET_DOUBT_DELAY" help:"wait before checking a create that may have gone through"`
	PassedGrace   time.Duration `yaml:"passed_grace" flag:"passed-grace" env:"VMFLEET_PASSED_GRACE" help:"host mode: a passed build whose host still lacks the image this long after counts as failed"`
}

type orchPulls struct {
	MaxConcurrent int           `yaml:"max_concurrent" flag:"max-pulls" env:"VMFLEET_MAX_PULLS" help:"pull commands in flight fleet-wide"`
	MaxPerHost    int           `yaml:"max_per_host" flag:"max-pulls-per-host" env:"VMFLEET_MAX_PULLS_PER_HOST" help:"pull commands in flight to one host (its agent pulls one image at a time)"`
	Timeout       time.Duration `yaml:"timeout" flag:"pull-timeout" env:"VMFLEET_PULLS_TIMEOUT" help:"deadline of one pull command"`
}

type orchPrunes struct {
	MaxConcurrent int           `yaml:"max_concurrent" flag:"max-prunes" env:"VMFLEET_MAX_PRUNES" help:"prune commands in flight fleet-wide"`
	Timeout       time.Duration `yaml:"timeout" flag:"prune-timeout" env:"VMFLEET_PRUNES_TIMEOUT" help:"deadline of one prune command (the agent deletes one VM at a time, then checks)"`
}

// orchHosts is how long the orchestrator remembers silent hosts and how it
// judges their reports.
type orchHosts struct {
	MaxClockSkew time.Duration `yaml:"max_clock_skew" flag:"max-clock-skew" env:"VMFLEET_MAX_CLOCK_SKEW" help:"how far ahead of when NATS stored it, and of the orchestrator's clock, a health event may be dated; further ahead it is rejected (clock_skew), 1s to 24h"`
	ForgetAfter  time.Duration `yaml:"forget_after" flag:"forget-after" env:"VMFLEET_FORGET_AFTER" help:"a host stale this long is forgotten: purged from the stream and the fleet state until it reports again (at least 1m)"`
}

type orchWebhook struct {
	Secret     secret `yaml:"-" flag:"-" env:"VMFLEET_WEBHOOK_SECRET" help:"Buildkite webhook signature secret (env only; or secret_file)"`
	SecretFile string `yaml:"secret_file" flag:"webhook-secret-file" env:"VMFLEET_WEBHOOK_SECRET_FILE" help:"file holding the webhook signature secret (X-Buildkite-Signature)"`
	Token      secret `yaml:"-" flag:"-" env:"VMFLEET_WEBHOOK_TOKEN" help:"Buildkite webhook token (env only; or token_file)"`
	TokenFile  string `yaml:"token_file" flag:"webhook-token-file" env:"VMFLEET_WEBHOOK_TOKEN_FILE" help:"file holding the webhook token (X-Buildkite-Token)"`
}

// windowsList is cleanup windows: a YAML list of {schedule, duration}, or on
// the command line "CRON=DURATION" items separated by ';' (the last '='
// splits, so CRON_TZ=... works).
type windowsList []events.Window

func (w *windowsList) UnmarshalText(b []byte) error {
	var out windowsList
	for item := range strings.SplitSeq(string(b), ";") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		i := strings.LastIndexByte(item, '=')
		if i < 0 {
			return fmt.Errorf("window %q: want CRON=DURATION, e.g. \"0 2 * * *=2h\"", item)
		}
		var d events.Duration
		if err := d.UnmarshalText([]byte(strings.TrimSpace(item[i+1:]))); err != nil {
			return fmt.Errorf("window %q: %w", item, err)
		}
		out = append(out, events.Window{Schedule: strings.TrimSpace(item[:i]), Duration: d})
	}
	*w = out
	return nil
}

func (w windowsList) MarshalText() ([]byte, error) {
	parts := make([]string, len(w))
	for i, x := range w {
		parts[i] = x.Schedule + "=" + x.Duration.D().String()
	}
	return []byte(strings.Join(parts, ";")), nil
}

// defaultOrchestratorConfig is the command's defaults, taken from the
// packages' (orchestrator.DefaultConfig, buildkite) so each is written once;
// only the command's own (HTTP address, data dir, Buildkite pipeline) are here.
func defaultOrchestratorConfig() orchestratorConfig {
	spec := events.DefaultImageSpec()
	d := orchestrator.DefaultConfig()
	home, _ := os.UserHomeDir()
	n := defaultNATSConn()
	n.SubjectPrefix = d.Prefix
	return orchestratorConfig{
		HTTPAddr: "127.0.0.1:8080", Tick: d.Tick, Heartbeat: d.Hosts.DefaultHeartbeat,
		LeaseTTL: d.LeaderTTL, DrainTimeout: d.DrainTimeout,
		Images:  orchImages{NameTemplate: spec.NameTemplate, Releases: spec.Releases, BunVersion: spec.BunVersion, BootstrapVersion: spec.BootstrapVersion},
		Cleanup: orchCleanup{KeepBunVersions: 1},
		Spec:    orchSpec{ConfirmNotReadyFraction: d.ConfirmNotReadyFraction},
		Hosts:   orchHosts{ForgetAfter: d.Hosts.ForgetAfter, MaxClockSkew: d.Hosts.MaxClockSkew},
		NATS: orchNATS{NATSConn: n, Listen: "127.0.0.1:4222",
			DataDir: filepath.Join(home, ".vmfleet", "orchestrator", "jetstream"), Replicas: d.Replicas,
			Stream: orchStream{MaxAge: bus.StreamMaxAge, MaxBytes: bus.StreamMaxBytes, MaxMsgsPerSubject: bus.StreamMaxMsgsPerSubject, MaxMsgSize: bus.StreamMaxMsgSize}},
		Buildkite: orchBuildkite{APIURL: buildkite.DefaultURL, Pipeline: "build-macos-vm", Branch: "main", Commit: "HEAD", Timeout: buildkite.DefaultTimeout,
			AgentsInterval: d.Levers.Interval, DriftGrace: d.Levers.DriftGrace, PauseTimeout: d.Levers.PauseTimeout},
		Builds: orchBuilds{MaxConcurrent: d.Builds.MaxBuilds, MaxPerHost: d.Builds.MaxBuildsPerHost, MaxAttempts: d.Builds.MaxAttempts,
			BackoffBase: d.Builds.BackoffBase, BackoffMax: d.Builds.BackoffMax, PollInterval: d.Builds.PollInterval, MaxPolls: d.Builds.MaxPollsPerMinute,
			DoubtDelay: d.Builds.DoubtDelay, PassedGrace: d.Builds.PassedGrace},
		Pulls:  orchPulls{MaxConcurrent: d.Pulls.Concurrency, MaxPerHost: d.Pulls.PerHost, Timeout: d.Pulls.Timeout},
		Prunes: orchPrunes{MaxConcurrent: d.Prunes.Concurrency, Timeout: d.Prunes.Timeout},
	}
}

func init() {
	configDocs["orchestrator"] = func() any { c := defaultOrchestratorConfig(); return &c }
}

// readSecret returns the file's trimmed content when file is set, else value.
// A file that is set but empty is an error (emptySecretFile): taken for "no
// secret" it would silently turn off what the secret guards.
func readSecret(key, file string, value secret) (string, error) {
	if file == "" {
		return value.Reveal(), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", cliconfig.ErrConfig, key, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", emptySecretFile(key, file)
	}
	return s, nil
}

// spec is the desired state the orchestrator publishes.
func (c orchestratorConfig) spec() events.Spec {
	return events.Spec{
		Images: events.ImageSpec{NameTemplate: c.Images.NameTemplate, Releases: c.Images.Releases,
			BunVersion: c.Images.BunVersion, BootstrapVersion: c.Images.BootstrapVersion, Registry: c.Images.Registry},
		Cleanup: events.CleanupPolicy{KeepBunVersions: c.Cleanup.KeepBunVersions,
			DiskEmergencyFreeBytes: c.Cleanup.DiskEmergencyFreeBytes, Windows: c.Cleanup.Windows,
			RemovedGrace: events.Duration(c.Cleanup.RemovedGrace), MaxPruneHostsFraction: c.Cleanup.MaxPruneHostsFraction},
	}
}

// orchestratorCfg maps the command's config (secrets already read) to the package's.
func (c orchestratorConfig) orchestratorCfg(instance, apiToken, whSecret, whToken string) orchestrator.Config {
	return orchestrator.Config{
		Prefix: c.NATS.SubjectPrefix, Instance: instance, Replicas: c.NATS.Replicas, Spec: c.spec(),
		Tick:  c.Tick,
		Hosts: hosts.Config{DefaultHeartbeat: c.Heartbeat, MaxClockSkew: c.Hosts.MaxClockSkew, ForgetAfter: c.Hosts.ForgetAfter},
		Builds: builds.Config{PollInterval: c.Builds.PollInterval, MaxPollsPerMinute: c.Builds.MaxPolls,
			MaxBuilds: c.Builds.MaxConcurrent, MaxBuildsPerHost: c.Builds.MaxPerHost, MaxAttempts: c.Builds.MaxAttempts,
			BackoffBase: c.Builds.BackoffBase, BackoffMax: c.Builds.BackoffMax, DoubtDelay: c.Builds.DoubtDelay,
			PassedGrace: c.Builds.PassedGrace},
		Pulls:  pulls.Config{Concurrency: c.Pulls.MaxConcurrent, PerHost: c.Pulls.MaxPerHost, Timeout: c.Pulls.Timeout},
		Prunes: prunes.Config{Concurrency: c.Prunes.MaxConcurrent, Timeout: c.Prunes.Timeout},
		Levers: levers.Config{Interval: agentsInterval(c.Buildkite.AgentsInterval), DriftGrace: c.Buildkite.DriftGrace,
			Pause: c.Buildkite.Pause, PauseTimeout: c.Buildkite.PauseTimeout},
		WebhookSecret: whSecret, WebhookToken: whToken, APIToken: apiToken, MetricsAuth: c.MetricsAuth,
		LeaderTTL: c.LeaseTTL, DrainTimeout: c.DrainTimeout, ConfirmNotReadyFraction: c.Spec.ConfirmNotReadyFraction,
	}
}
