package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/vmfleet/vmfleet/agentd"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
	"github.com/vmfleet/vmfleet/internal/redact"
	"github.com/vmfleet/vmfleet/tart"
)

// agentConfig is the configuration of every `vmfleet agent` command
// (docs/configuration.md, section `vmfleet agent`).
type agentConfig struct {
	Host          string         `yaml:"host" flag:"host" env:"VMFLEET_HOST" help:"host name (default: the machine's); its NATS-safe token names the host's subjects"`
	AgentName     string         `yaml:"agent_name" flag:"agent-name" env:"VMFLEET_AGENT_NAME" help:"agent name shown in events (default: the host name)"`
	StateDir      string         `yaml:"state_dir" flag:"state-dir" env:"VMFLEET_STATE_DIR" help:"directory for forced states and the last check (default ~/.vmfleet/agent)"`
	MetricsListen string         `yaml:"metrics_listen" flag:"metrics-listen" env:"VMFLEET_METRICS_LISTEN" help:"host:port serving Prometheus /metrics for agent run (empty: off)"`
	Images        agentImages    `yaml:"images"`
	Tart          agentTart      `yaml:"tart"`
	Check         agentCheck     `yaml:"check"`
	NATS          agentNATS      `yaml:"nats"`
	Buildkite     agentBuildkite `yaml:"buildkite"`
}

type agentImages struct {
	NameTemplate     string   `yaml:"name_template" flag:"name-template" env:"VMFLEET_NAME_TEMPLATE" help:"image name template with {release}, {bun} and {bootstrap}"`
	Releases         []string `yaml:"releases" flag:"release" env:"VMFLEET_RELEASES,MACOS_VERSIONS_TO_CHECK,MACOS_RELEASE" help:"macOS releases to check (repeat the flag, or space/comma separated in env)"`
	BunVersion       string   `yaml:"bun_version" flag:"bun-version" env:"VMFLEET_BUN_VERSION,BUN_VERSION" help:"bun version of the expected images"`
	BootstrapVersion string   `yaml:"bootstrap_version" flag:"bootstrap-version" env:"VMFLEET_BOOTSTRAP_VERSION,REQUIRED_BOOTSTRAP_VERSION,BOOTSTRAP_VERSION" help:"bootstrap version of the expected images"`
	Registry         string   `yaml:"registry" flag:"registry" env:"VMFLEET_REGISTRY" help:"OCI reference template images are pulled from (empty: built on each host)"`
}

type agentTart struct {
	Path        string        `yaml:"path" flag:"tart" env:"VMFLEET_TART" help:"tart executable (default: tart from PATH)"`
	Home        string        `yaml:"home" flag:"tart-home" env:"TART_HOME" help:"tart's home directory, watched for VM changes (default ~/.tart)"`
	Timeout     time.Duration `yaml:"timeout" flag:"tart-timeout" env:"VMFLEET_TART_TIMEOUT" help:"deadline of tart list, --version, rename and delete"`
	PullTimeout time.Duration `yaml:"pull_timeout" flag:"pull-timeout" env:"VMFLEET_PULL_TIMEOUT" help:"deadline of a pull (tart clone of a registry image)"`
}

type agentCheck struct {
	Interval  time.Duration `yaml:"interval" flag:"interval" env:"VMFLEET_CHECK_INTERVAL" help:"time between timed checks of agent run"`
	Schedule  string        `yaml:"schedule" flag:"schedule" env:"VMFLEET_CHECK_SCHEDULE" help:"cron spec for timed checks, replacing --interval (e.g. \"*/5 * * * *\")"`
	Heartbeat time.Duration `yaml:"heartbeat" flag:"heartbeat" env:"VMFLEET_HEARTBEAT" help:"longest time between two health events (default: the interval)"`
}

// agentNATS is the shared connection section and the agent's reply inbox.
type agentNATS struct {
	NATSConn    `yaml:",inline"`
	InboxPrefix string `yaml:"inbox_prefix" flag:"nats-inbox-prefix" env:"VMFLEET_NATS_INBOX_PREFIX" help:"reply inbox prefix (default _INBOX.<host>)"`
}

// agentNATSHelp words the shared NATS keys for the agent (and events).
var agentNATSHelp = map[string]string{
	"nats.urls":           "NATS server URLs (repeat or comma separated); empty: no NATS",
	"nats.nkey_seed_file": "file holding the host's NKey seed (creds/<host>.nk from 'vmfleet nats-config')",
}

// ConfigHelp implements cliconfig.Helper.
func (agentConfig) ConfigHelp() map[string]string { return agentNATSHelp }

func defaultAgentConfig() agentConfig {
	spec := events.DefaultImageSpec()
	return agentConfig{
		Images: agentImages{NameTemplate: spec.NameTemplate, Releases: spec.Releases, BunVersion: spec.BunVersion, BootstrapVersion: spec.BootstrapVersion},
		Tart:   agentTart{Timeout: agentd.DefaultTartTimeout, PullTimeout: agentd.DefaultPullTimeout},
		Check:  agentCheck{Interval: agentd.DefaultInterval},
		NATS:   agentNATS{NATSConn: defaultNATSConn()},
	}
}

func init() {
	configDocs["agent"] = func() any { c := defaultAgentConfig(); return &c }
}

// agentdConfig maps the command's config to the agent's.
func (c agentConfig) agentdConfig() agentd.Config {
	return agentd.Config{
		Hostname: c.Host, AgentName: c.AgentName, StateDir: c.StateDir, TartHome: c.Tart.Home,
		Images: events.ImageSpec{
			NameTemplate: c.Images.NameTemplate, Releases: c.Images.Releases,
			BunVersion: c.Images.BunVersion, BootstrapVersion: c.Images.BootstrapVersion, Registry: c.Images.Registry,
		},
		Interval: c.Check.Interval, Schedule: c.Check.Schedule, Heartbeat: c.Check.Heartbeat,
		TartTimeout: c.Tart.Timeout, PullTimeout: c.Tart.PullTimeout, SubjectPrefix: c.NATS.SubjectPrefix,
	}
}

// newTart returns the tart client with the agent's path, home and deadlines.
func (c agentConfig) newTart(log *slog.Logger, home string) (*tart.Client, error) {
	opts := []tart.Option{tart.WithLogger(log), tart.WithEnv("TART_HOME=" + home)}
	if c.Tart.Path != "" {
		opts = append(opts, tart.WithPath(c.Tart.Path))
	}
	for _, op := range []tart.Op{tart.OpList, tart.OpVersion, tart.OpRename, tart.OpDelete, tart.OpGet} {
		opts = append(opts, tart.WithTimeout(op, c.Tart.Timeout))
	}
	opts = append(opts, tart.WithTimeout(tart.OpClone, c.Tart.PullTimeout), tart.WithTimeout(tart.OpPull, c.Tart.PullTimeout))
	cl, err := tart.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: tart: %v", cliconfig.ErrConfig, err)
	}
	return cl, nil
}

// connect dials NATS when URLs are configured (nil, nil otherwise). The
// connection is made in the background: a host keeps working while NATS is down.
func (c agentConfig) connect(log *slog.Logger, host string) (*nats.Conn, error) {
	if len(c.NATS.URLs) == 0 {
		return nil, nil
	}
	if err := checkNATSURLs(c.NATS.URLs); err != nil {
		return nil, err
	}
	pw, err := c.NATS.password()
	if err != nil {
		return nil, err
	}
	redact.Add(log, pw)
	inbox := c.NATS.InboxPrefix
	if inbox == "" {
		inbox = "_INBOX." + host
	}
	return bus.Connect(c.NATS.connConfig("vmfleet-agent "+host, c.NATS.URLs, pw, inbox), log)
}

// agentEnv is what an agent command works with.
type agentEnv struct {
	agent *agentd.Agent
	nc    *nats.Conn
	log   *slog.Logger
}

// close flushes pending publishes (bounded) and closes the connection.
func (e *agentEnv) close() {
	if e.nc == nil || e.nc.IsClosed() {
		return
	}
	if err := e.nc.FlushTimeout(5 * time.Second); err != nil {
		e.log.Warn("NATS: could not deliver the last events", "err", bus.Explain(e.nc, err))
	}
	e.nc.Close()
}

// newAgentEnv builds the tart client, the NATS connection and the agent.
func newAgentEnv(ctx context.Context, c agentConfig, log *slog.Logger, opts ...agentd.Option) (*agentEnv, error) {
	acfg, err := c.agentdConfig().WithDefaults()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", cliconfig.ErrConfig, err)
	}
	host, _ := events.HostToken(acfg.Hostname)
	tc, err := c.newTart(log, acfg.TartHome)
	if err != nil {
		return nil, err
	}
	env := &agentEnv{log: log}
	nc, err := c.connect(log, host)
	if err != nil {
		return nil, err
	}
	env.nc = nc
	opts = append([]agentd.Option{agentd.WithLogger(log)}, opts...)
	if nc != nil {
		opts = append(opts, agentd.WithConn(nc))
	}
	if env.agent, err = agentd.New(acfg, tc, opts...); err != nil {
		env.close()
		return nil, err
	}
	if nc != nil {
		sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		if _, err := env.agent.SyncSpec(sctx); err != nil {
			log.Warn("cannot read the spec from NATS; using the local spec", "err", err)
		}
		cancel()
	}
	return env, nil
}
