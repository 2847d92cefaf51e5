package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
)

func init() { register(newAgentCmd) }

// agentConfigEnv is the environment variable naming the agent's config file.
const agentConfigEnv = "VMFLEET_AGENT_CONFIG"

func newAgentCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "The host agent: check VM images, publish health, serve commands",
		Long: `The host agent decides which tart VM images are ready on this host and tells
the fleet over NATS. It replaces agent-vm-health-check.sh: check, status,
force-ready and force-not-ready work as before, with the same environment
variables (MACOS_VERSIONS_TO_CHECK, MACOS_RELEASE, BUN_VERSION,
REQUIRED_BOOTSTRAP_VERSION). See docs/agent.md.`,
		Example: `  vmfleet agent check                       # exit 0 ready, 1 not ready, 2 error
  MACOS_VERSIONS_TO_CHECK="13 14" vmfleet agent check --json
  vmfleet agent run --nats-url nats://orchestrator:4222
  vmfleet agent force-ready --ttl 2h`,
	}
	cmd.AddCommand(newAgentCheckCmd(g), newAgentStatusCmd(g),
		newAgentForceCmd(g, events.ForcedReady), newAgentForceCmd(g, events.ForcedNotReady),
		newAgentRunCmd(g), newAgentPublishImageCmd(g), newAgentRoomCmd(g))
	return cmd
}

// checkExit is the seed's exit code for a check: 0 every release ready, 1 any
// not ready, 2 tart failed.
func checkExit(h events.HostHealth) error {
	switch {
	case h.TartError != "":
		return exitCode(2, nil)
	case !h.Ready:
		return exitCode(1, nil)
	}
	return nil
}

func newAgentCheckCmd(g *globalFlags) *cobra.Command {
	cfg := defaultAgentConfig()
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check once: which releases have their VM image ready",
		Long: `Runs one check (one "tart list") and prints, per release, the expected image,
whether it is ready and why. With --nats-url it also publishes the health event
and waits (up to 5 s) until NATS has taken it.

Exit status:
  0  every release is ready (or the host is forced ready)
  1  any release is not ready
  2  error: tart failed, bad configuration
  3  the check ran but its health event was not delivered: NATS unreachable,
     credentials refused, or the publish refused (a seed of another host);
     the output still shows the check, stderr says why`,
		Example: `  vmfleet agent check
  vmfleet agent check --json --release 13 --release 14`,
		Args: cobra.NoArgs,
	}
	b := cliconfig.Bind(cmd, &cfg, agentConfigEnv)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the HostHealth data object as JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		env, err := openAgent(cmd, g, b, &cfg)
		if err != nil {
			return err
		}
		defer env.close()
		start := time.Now()
		if env.nc != nil {
			// Publish once connected: a publish with headers cannot be
			// buffered before the first connection.
			waitConnected(env.nc, deliverTimeout)
		}
		h, err := env.agent.CheckAndPublish(cmd.Context())
		if err != nil && h.Host == "" {
			return err
		}
		var undelivered error
		if env.nc != nil {
			undelivered = confirmDelivery(env.nc, cfg.NATS.SubjectPrefix, env.agent.Host(), deliverTimeout-time.Since(start))
			if undelivered == nil && err != nil {
				undelivered = fmt.Errorf("health event not delivered: %w", err)
			}
			if undelivered != nil {
				env.nc.Close() // nothing more to wait for
				if serr := cfg.seedOwnerErr(); serr != nil {
					undelivered = fmt.Errorf("%w; %w", undelivered, serr)
				}
			}
		}
		if asJSON {
			if err := writeJSON(cmd.OutOrStdout(), h); err != nil {
				return err
			}
		} else {
			printReleases(cmd.OutOrStdout(), h)
		}
		if undelivered != nil && h.TartError == "" {
			return exitCode(exitNotDelivered, undelivered)
		}
		return checkExit(h)
	}
	return cmd
}

// openAgent loads the config and builds the agent for one command.
func openAgent(cmd *cobra.Command, g *globalFlags, b *cliconfig.Binder, cfg *agentConfig) (*agentEnv, error) {
	log, err := g.loadWithLogger(cmd, b)
	if err != nil {
		return nil, err
	}
	return newAgentEnv(cmd.Context(), *cfg, log)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printReleases prints the per-release table.
func printReleases(w io.Writer, h events.HostHealth) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RELEASE\tEXPECTED IMAGE\tREADY\tREASON\tDETAIL")
	for _, r := range h.Releases {
		ready := "no"
		if r.Ready {
			ready = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Release, r.ExpectedImage, ready, r.Reason, r.Detail)
	}
	_ = tw.Flush()
	if len(h.Staged) > 0 {
		fmt.Fprintf(w, "\nstaged spec (revision %d):\n", h.NextRevision)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "RELEASE\tSTAGED IMAGE\tREADY\tREASON\tDETAIL")
		for _, r := range h.Staged {
			ready := "no"
			if r.Ready {
				ready = "yes"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Release, r.ExpectedImage, ready, r.Reason, r.Detail)
		}
		_ = tw.Flush()
	}
	if h.TartError != "" {
		fmt.Fprintf(w, "tart failed: %s\n", h.TartError)
	}
}
