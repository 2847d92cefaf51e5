package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
	"github.com/vmfleet/vmfleet/internal/natsauth"
)

func init() {
	register(newNATSConfigCmd)
	configDocs["nats-config"] = func() any { c := defaultNATSConfigConfig(); return &c }
}

// natsConfigEnv names the command's config file.
const natsConfigEnv = "VMFLEET_NATS_CONFIG_CONFIG"

// natsConfigConfig is the configuration of `vmfleet nats-config`
// (docs/configuration.md, section `vmfleet nats-config`).
type natsConfigConfig struct {
	Hosts             []string          `yaml:"hosts" flag:"hosts" env:"VMFLEET_NATS_CONFIG_HOSTS" help:"host names (repeat or comma separated); each gets a user named by its subject token"`
	HostsFile         string            `yaml:"hosts_file" flag:"hosts-file" env:"VMFLEET_NATS_CONFIG_HOSTS_FILE" help:"file with one host name per line (# starts a comment), added to --hosts"`
	Out               string            `yaml:"out" flag:"out" env:"VMFLEET_NATS_CONFIG_OUT" help:"output directory for the configuration and creds/<identity>.nk seed files"`
	ConfigName        string            `yaml:"config_name" flag:"config-name" env:"VMFLEET_NATS_CONFIG_NAME" help:"configuration file name inside --out (e.g. n1.conf for one cluster node)"`
	SubjectPrefix     string            `yaml:"subject_prefix" flag:"subject-prefix" env:"VMFLEET_SUBJECT_PREFIX" help:"NATS subject prefix the permissions are written for"`
	Listen            string            `yaml:"listen" flag:"listen" env:"VMFLEET_NATS_CONFIG_LISTEN" help:"client listen address host:port of the server"`
	ServerName        string            `yaml:"server_name" flag:"server-name" env:"VMFLEET_NATS_CONFIG_SERVER_NAME" help:"server_name (required with --cluster: unique per node)"`
	JetStreamDir      string            `yaml:"jetstream_dir" flag:"jetstream-dir" env:"VMFLEET_NATS_CONFIG_JETSTREAM_DIR" help:"JetStream store directory (empty: nats-server's default)"`
	Orchestrator      string            `yaml:"orchestrator" flag:"orchestrator" env:"VMFLEET_NATS_CONFIG_ORCHESTRATOR" help:"name of the orchestrator identity (seed creds/<name>.nk)"`
	OrchestratorInbox string            `yaml:"orchestrator_inbox" flag:"orchestrator-inbox" env:"VMFLEET_NATS_CONFIG_ORCHESTRATOR_INBOX" help:"restrict the orchestrator's replies to this inbox prefix (empty: any inbox)"`
	Consumers         []string          `yaml:"consumers" flag:"consumer" env:"VMFLEET_NATS_CONFIG_CONSUMERS" help:"read-only identities for dashboards and event tails (repeat)"`
	Cluster           natsConfigCluster `yaml:"cluster"`
	TLS               natsConfigTLS     `yaml:"tls"`
	JetStream         natsConfigJS      `yaml:"jetstream"`
	ResponseTTL       time.Duration     `yaml:"response_ttl" flag:"response-ttl" env:"VMFLEET_NATS_CONFIG_RESPONSE_TTL" help:"how long a host may take to answer a command (longer than the agent's pull timeout)"`
	Rotate            []string          `yaml:"-" flag:"rotate" env:"VMFLEET_NATS_CONFIG_ROTATE" help:"identities (host, orchestrator or consumer names) whose seed is replaced this run"`
	RotateRoute       bool              `yaml:"-" flag:"rotate-route-password" env:"VMFLEET_NATS_CONFIG_ROTATE_ROUTE_PASSWORD" help:"replace the cluster route password this run"`
}

type natsConfigCluster struct {
	Name   string   `yaml:"name" flag:"cluster" env:"VMFLEET_NATS_CONFIG_CLUSTER" help:"cluster name: makes the server a cluster node (needs --server-name and --routes)"`
	Listen string   `yaml:"listen" flag:"cluster-listen" env:"VMFLEET_NATS_CONFIG_CLUSTER_LISTEN" help:"route listen address host:port"`
	Routes []string `yaml:"routes" flag:"routes" env:"VMFLEET_NATS_CONFIG_ROUTES" help:"nats-route://host:port of every node (repeat or comma separated; no credentials)"`
}

type natsConfigTLS struct {
	CertFile string `yaml:"cert_file" flag:"tls-cert" env:"VMFLEET_NATS_CONFIG_TLS_CERT" help:"server certificate file: clients must use TLS"`
	KeyFile  string `yaml:"key_file" flag:"tls-key" env:"VMFLEET_NATS_CONFIG_TLS_KEY" help:"server private key file"`
	CAFile   string `yaml:"ca_file" flag:"tls-ca" env:"VMFLEET_NATS_CONFIG_TLS_CA" help:"CA file for client certificates"`
	Verify   bool   `yaml:"verify" flag:"tls-verify" env:"VMFLEET_NATS_CONFIG_TLS_VERIFY" help:"require client certificates signed by --tls-ca"`
}

// natsConfigJS sizes the JetStream limits of account VMFLEET; 0 derives a
// limit from the stream's (natsauth.AccountLimits.Resolve).
type natsConfigJS struct {
	StreamMaxBytes int64 `yaml:"stream_max_bytes" flag:"stream-max-bytes" env:"VMFLEET_STREAM_MAX_BYTES" help:"the orchestrator's nats.stream.max_bytes: the account's store is sized for it"`
	Replicas       int   `yaml:"replicas" flag:"replicas" env:"VMFLEET_REPLICAS" help:"replicas of the stream and KV buckets (0: 3 with --cluster, else 1); each counts against the store"`
	MaxMemory      int64 `yaml:"max_memory" flag:"js-max-memory" env:"VMFLEET_NATS_CONFIG_JS_MAX_MEMORY" help:"account memory store in bytes (0: 64 MiB; -1: unlimited)"`
	MaxStore       int64 `yaml:"max_store" flag:"js-max-store" env:"VMFLEET_NATS_CONFIG_JS_MAX_STORE" help:"account file store in bytes (0: replicas x (stream_max_bytes + 256 MiB for the KV buckets); -1: unlimited)"`
	MaxStreams     int   `yaml:"max_streams" flag:"js-max-streams" env:"VMFLEET_NATS_CONFIG_JS_MAX_STREAMS" help:"account streams (0: 8, vmfleet makes 4; -1: unlimited)"`
	MaxConsumers   int   `yaml:"max_consumers" flag:"js-max-consumers" env:"VMFLEET_NATS_CONFIG_JS_MAX_CONSUMERS" help:"consumers per stream (0: 2 x identities + 64; -1: unlimited)"`
}

func defaultNATSConfigConfig() natsConfigConfig {
	return natsConfigConfig{
		ConfigName: natsauth.DefaultConfigName, SubjectPrefix: events.DefaultPrefix,
		Listen: natsauth.DefaultListen, Orchestrator: natsauth.DefaultOrchestrator,
		Cluster:     natsConfigCluster{Listen: "0.0.0.0:6222"},
		ResponseTTL: natsauth.DefaultResponseTTL,
		JetStream:   natsConfigJS{StreamMaxBytes: bus.StreamMaxBytes},
	}
}

func newNATSConfigCmd(g *globalFlags) *cobra.Command {
	cfg := defaultNATSConfigConfig()
	cmd := &cobra.Command{
		Use:   "nats-config",
		Short: "Generate a least-privilege nats-server configuration and per-host NKeys",
		Long: `Writes a nats-server configuration where every host is its own NKey user that
may publish only its own health and prune results, read the spec bucket, answer
requests through their reply subject, and subscribe only to its own commands and
inbox; plus the orchestrator and optional read-only consumers, all in account
VMFLEET, whose JetStream limits are sized from the orchestrator's stream limits
(--stream-max-bytes, --replicas) or set with --js-max-*. Seeds go to
<out>/creds/<identity>.nk (0600); the configuration holds public keys only and
is checked with nats-server's own parser before it replaces the old one.
Re-running keeps existing seeds: add hosts freely; --rotate replaces a seed.
See docs/security.md.`,
		Example: `  vmfleet nats-config --hosts mac-01,mac-02 --out /etc/vmfleet/nats --jetstream-dir /var/lib/vmfleet/nats
  vmfleet nats-config --hosts-file hosts.txt --out /etc/vmfleet/nats --consumer dashboard
  vmfleet nats-config --hosts-file hosts.txt --out /etc/vmfleet/nats --rotate mac-02
  vmfleet nats-config --hosts-file hosts.txt --out /etc/vmfleet/nats --server-name n1 --config-name n1.conf \
      --cluster vmfleet --routes nats-route://n1:6222,nats-route://n2:6222,nats-route://n3:6222`,
		Args: cobra.NoArgs,
	}
	b := cliconfig.Bind(cmd, &cfg, natsConfigEnv)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		log, err := g.loadWithLogger(cmd, b)
		if err != nil {
			return err
		}
		gen, err := cfg.generator(natsauth.WithLogger(log))
		if err != nil {
			return err
		}
		res, err := gen.Write(cfg.Out)
		if err != nil {
			return err
		}
		printNATSConfig(cmd.OutOrStdout(), res)
		return nil
	}
	return cmd
}

// generator checks the config and builds the natsauth generator.
func (c natsConfigConfig) generator(extra ...natsauth.Option) (*natsauth.Generator, error) {
	if c.Out == "" {
		return nil, fmt.Errorf("%w: --out: give the output directory", cliconfig.ErrConfig)
	}
	hosts := append([]string(nil), c.Hosts...)
	if c.HostsFile != "" {
		more, err := readHostsFile(c.HostsFile)
		if err != nil {
			return nil, err
		}
		hosts = append(hosts, more...)
	}
	if len(hosts) == 0 {
		return nil, fmt.Errorf("%w: no hosts: give --hosts mac-01,mac-02 or --hosts-file", cliconfig.ErrConfig)
	}
	opts := []natsauth.Option{
		natsauth.WithPrefix(c.SubjectPrefix), natsauth.WithListen(c.Listen), natsauth.WithConfigName(c.ConfigName),
		natsauth.WithOrchestrator(c.Orchestrator), natsauth.WithResponseTTL(c.ResponseTTL),
		natsauth.WithConsumers(c.Consumers...), natsauth.WithRotate(c.Rotate...),
		natsauth.WithAccountLimits(natsauth.AccountLimits{StreamMaxBytes: c.JetStream.StreamMaxBytes, Replicas: c.JetStream.Replicas,
			MaxMemory: c.JetStream.MaxMemory, MaxStore: c.JetStream.MaxStore, MaxStreams: c.JetStream.MaxStreams, MaxConsumers: c.JetStream.MaxConsumers}),
	}
	if c.ServerName != "" {
		opts = append(opts, natsauth.WithServerName(c.ServerName))
	}
	if c.JetStreamDir != "" {
		opts = append(opts, natsauth.WithJetStreamDir(c.JetStreamDir))
	}
	if c.OrchestratorInbox != "" {
		opts = append(opts, natsauth.WithOrchestratorInbox(c.OrchestratorInbox))
	}
	if c.Cluster.Name != "" || len(c.Cluster.Routes) > 0 {
		opts = append(opts, natsauth.WithCluster(natsauth.Cluster{Name: c.Cluster.Name, Listen: c.Cluster.Listen, Routes: c.Cluster.Routes}))
	}
	if c.RotateRoute {
		opts = append(opts, natsauth.WithRotateRoutePassword())
	}
	if t := c.TLS; t.CertFile != "" || t.KeyFile != "" || t.CAFile != "" || t.Verify {
		opts = append(opts, natsauth.WithTLS(natsauth.TLS{CertFile: t.CertFile, KeyFile: t.KeyFile, CAFile: t.CAFile, Verify: t.Verify}))
	}
	g, err := natsauth.New(hosts, append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", cliconfig.ErrConfig, err)
	}
	return g, nil
}

// readHostsFile reads one host name per line; blank lines and # comments are skipped.
func readHostsFile(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: hosts file: %v", cliconfig.ErrConfig, err)
	}
	var hosts []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if line = strings.TrimSpace(line); line != "" {
			hosts = append(hosts, line)
		}
	}
	return hosts, sc.Err()
}

// printNATSConfig tells the operator what was written and what goes where.
func printNATSConfig(w io.Writer, res natsauth.Result) {
	fmt.Fprintf(w, "wrote %s (checked with nats-server's parser)\n", res.ConfigFile)
	if res.RoutesFile != "" {
		fmt.Fprintf(w, "wrote %s (0600: route password; copy it to every node)\n", res.RoutesFile)
	}
	l := res.Limits
	fmt.Fprintf(w, "account %s JetStream limits: store %s (%d replica(s) of stream %s at %s + the KV buckets), memory %s, %d streams, %d consumers per stream\n",
		natsauth.AccountName, limitBytes(l.MaxStore), l.Replicas, events.StreamName, limitBytes(l.StreamMaxBytes), limitBytes(l.MaxMemory), l.MaxStreams, l.MaxConsumers)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nROLE\tIDENTITY\tSEED\tINBOX PREFIX\tSEED FILE")
	for _, s := range res.Seeds {
		inbox := s.InboxPrefix
		if inbox == "" {
			inbox = "(default)"
		}
		name := s.Name
		if s.Host != "" && s.Host != s.Name {
			name += " (" + s.Host + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Role, name, s.State, inbox, s.File)
	}
	_ = tw.Flush()
	for _, u := range res.Unused {
		fmt.Fprintf(w, "unused seed %s: no identity uses it any more; delete it once that host is retired\n", u)
	}
	fmt.Fprintf(w, "\nCopy each host's seed to that host only (0600), then run its agent with\n"+
		"  --nats-url nats://<server>:4222 --nats-nkey-seed /path/to/%s/<host>%s\n"+
		"Start the server with: nats-server -c %s (reload after re-running: nats-server --signal reload)\n",
		natsauth.CredsDir, natsauth.SeedExt, filepath.Clean(res.ConfigFile))
}

// limitBytes writes a byte limit in MiB, or "unlimited".
func limitBytes(n int64) string {
	if n < 0 {
		return "unlimited"
	}
	return fmt.Sprintf("%d MiB", n>>20)
}
