package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"github.com/vmfleet/vmfleet/agentd"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
)

func newAgentRunCmd(g *globalFlags) *cobra.Command {
	cfg := defaultAgentConfig()
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the host agent daemon",
		Long: `Runs the host agent: checks on a timer (--interval or --schedule), on any
change under $TART_HOME/vms, on a spec change in NATS KV (vmfleet_spec) and on a
check command; publishes <prefix>.host.<host>.health when anything changed and
every --heartbeat; serves check, force, pull and prune on <prefix>.cmd.<host>.*.
It keeps checking while NATS is down and republishes on reconnect. SIGTERM or
SIGINT stops it gracefully.`,
		Example: `  vmfleet agent run --nats-url nats://orchestrator:4222 --nats-nkey-seed /etc/vmfleet/nats/creds/mac-01.nk
  vmfleet agent run --config /etc/vmfleet/agent.yaml`,
		Args: cobra.NoArgs,
	}
	b := cliconfig.Bind(cmd, &cfg, agentConfigEnv)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		log, err := g.loadWithLogger(cmd, b)
		if err != nil {
			return err
		}
		if err := cfg.seedOwnerErr(); err != nil {
			return err // every publish would be refused
		}
		ctx := cmd.Context()
		reg := newDaemonRegistry() // daemon_metrics.go
		var agent *agentd.Agent
		applier, sup, err := cfg.Buildkite.lever(log, func([]string) {
			if agent != nil {
				agent.Trigger()
			}
		})
		if err != nil {
			return err
		}
		opts := []agentd.Option{agentd.WithMetrics(reg)}
		if applier != nil {
			opts = append(opts, agentd.WithTagApplier(applier))
		}
		env, err := newAgentEnv(ctx, cfg, log, opts...)
		if err != nil {
			return err
		}
		agent = env.agent
		defer env.close()
		if env.nc == nil {
			log.Warn("no NATS URL: checking locally only (set --nats-url or VMFLEET_NATS_URL to publish)")
		}
		stopMetrics, err := serveMetrics(ctx, cfg.MetricsListen, reg, log)
		if err != nil {
			return err
		}
		defer stopMetrics()
		err = runWithSupervisor(ctx, env.agent, sup, log)
		log.Info("agent stopped")
		return err
	}
	return cmd
}

// serveMetrics serves /metrics on addr until stop is called ("" serves nothing).
func serveMetrics(ctx context.Context, addr string, reg *prometheus.Registry, log *slog.Logger) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w: metrics_listen %q: %v", cliconfig.ErrConfig, addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "err", err)
		}
	}()
	log.Info("serving metrics", "addr", ln.Addr().String())
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-done
	}, nil
}

func newAgentPublishImageCmd(g *globalFlags) *cobra.Command {
	cfg := defaultAgentConfig()
	var from, to string
	cmd := &cobra.Command{
		Use:   "publish-image --from TMP --to NAME",
		Short: "Rename a finished VM build to its final image name and publish at once",
		Long: `The last step of a VM build: under the host lock, renames the VM built under a
temporary name (--from) to its final image name (--to), which must match the
image name template, then checks and, with NATS configured, publishes the
health event at once. A half-built image is thus never seen under its final name.
Exit status 0 on success, 2 on error.`,
		Example: `  vmfleet agent publish-image --from "$VMFLEET_IMAGE-tmp-$BUILDKITE_BUILD_NUMBER" --to "$VMFLEET_IMAGE"`,
		Args:    cobra.NoArgs,
	}
	b := cliconfig.Bind(cmd, &cfg, agentConfigEnv)
	cmd.Flags().StringVar(&from, "from", "", "the VM's temporary build name")
	cmd.Flags().StringVar(&to, "to", "", "the final image name (must match the name template)")
	_ = cmd.MarkFlagRequired("from")
	_ = cmd.MarkFlagRequired("to")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		env, err := openAgent(cmd, g, b, &cfg)
		if err != nil {
			return err
		}
		defer env.close()
		h, err := env.agent.PublishImage(cmd.Context(), from, to)
		if err != nil && h.Host == "" {
			return err
		}
		printReleases(cmd.OutOrStdout(), h)
		if err != nil {
			return fmt.Errorf("renamed %s to %s, but the health event was not published: %w", from, to, err)
		}
		return nil
	}
	return cmd
}

func newAgentRoomCmd(g *globalFlags) *cobra.Command {
	cfg := defaultAgentConfig()
	var image string
	cmd := &cobra.Command{
		Use:   "room --image NAME",
		Short: "Before a VM build: say whether this host has room for the image",
		Long: `The first step of a VM build during a staged rollout. An image only the staged
spec (KV key next) wants is built on this host only when it fits on the disk
beside the host's images (the size of the current image of the same release,
or the largest VM, plus the disk emergency threshold): a staged image never
makes a current one go. Any other image (one the current spec wants) always has
room: it heals the spec in force. Reads the spec from NATS when configured.
Exit status 0: build; 3: no room (the host gets the image after promotion);
2 on error.`,
		Example: `  vmfleet agent room --image "$VMFLEET_IMAGE"`,
		Args:    cobra.NoArgs,
	}
	b := cliconfig.Bind(cmd, &cfg, agentConfigEnv)
	cmd.Flags().StringVar(&image, "image", "", "the image the build makes")
	_ = cmd.MarkFlagRequired("image")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		env, err := openAgent(cmd, g, b, &cfg)
		if err != nil {
			return err
		}
		defer env.close()
		err = env.agent.RoomFor(cmd.Context(), image)
		if errors.Is(err, agentd.ErrNoSpace) {
			return exitCode(3, err)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "room for %s\n", image)
		return nil
	}
	return cmd
}
