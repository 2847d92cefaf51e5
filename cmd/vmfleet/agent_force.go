package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
)

func newAgentForceCmd(g *globalFlags, state events.ForcedState) *cobra.Command {
	cfg := defaultAgentConfig()
	var (
		ttl   time.Duration
		clear bool
		by    string
		why   string
	)
	use, what := "force-ready", "ready"
	if state == events.ForcedNotReady {
		use, what = "force-not-ready", "not ready"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: fmt.Sprintf("Force this host %s (persists across restarts until cleared or --ttl passes)", what),
		Long: fmt.Sprintf(`Forces every release on this host %s, whatever the images, as the old
script's %s did, but persistently: the state is kept in the state directory,
shown in every health event and in status, until --clear or until --ttl passes.
A running agent picks it up at once. --clear removes any forced state.`, what, use),
		Example: fmt.Sprintf("  vmfleet agent %s --ttl 2h --reason \"disk swap\"\n  vmfleet agent %s --clear", use, use),
		Args:    cobra.NoArgs,
	}
	b := cliconfig.Bind(cmd, &cfg, agentConfigEnv)
	cmd.Flags().DurationVar(&ttl, "ttl", 0, "how long the forced state lasts (0: until cleared)")
	cmd.Flags().BoolVar(&clear, "clear", false, "clear any forced state instead")
	cmd.Flags().StringVar(&by, "by", os.Getenv("USER"), "who forces it, shown in events")
	cmd.Flags().StringVar(&why, "reason", "", "why, shown in events, status and on the dashboard")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		env, err := openAgent(cmd, g, b, &cfg)
		if err != nil {
			return err
		}
		defer env.close()
		f, err := env.agent.SetForced(events.ForceRequest{State: state, TTL: events.Duration(ttl), Clear: clear, By: by, Reason: why})
		if err != nil {
			return err
		}
		if f == nil {
			fmt.Fprintf(cmd.OutOrStdout(), "host %s: forced state cleared\n", env.agent.Host())
		} else {
			fmt.Fprintf(cmd.OutOrStdout(), "host %s: forced %s\n", env.agent.Host(), describeForced(f))
		}
		if env.nc != nil {
			if _, err := env.agent.CheckAndPublish(cmd.Context()); err != nil {
				env.log.Warn("health not published", "err", err)
			}
		}
		return nil
	}
	return cmd
}
