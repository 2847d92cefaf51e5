package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

func init() { register(newHostCmd) }

func newHostCmd(*globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "host",
		Short: "Manage the hosts the orchestrator knows",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newHostForgetCmd(), newHostDrainCmd(), newHostResumeCmd()) // host_drain.go
	return cmd
}

func newHostForgetCmd() *cobra.Command {
	var f opFlags
	var req api.ForgetHostRequest
	cmd := &cobra.Command{
		Use:   "forget HOST",
		Short: "Forget a retired host (POST /api/v1/hosts/HOST/forget)",
		Long: `Makes the orchestrator forget a host: its events are purged from the stream
and it leaves the fleet state, vmfleet status, the host metrics and the
stale-host alert, also after an orchestrator restart. A host that reports
again after being forgotten comes back. The forget is logged and published as
a fleet.forget event (vmfleet events) with --by and --reason. Hosts stale for
hosts.forget_after (default 7 days) are forgotten automatically.

Needs the API's bearer token (--token-file or VMFLEET_API_TOKEN).`,
		Example: `  vmfleet host forget mac-07 --reason "retired, disk failed"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tok, err := events.HostToken(args[0])
			if err != nil || tok == "" {
				return exitCode(2, fmt.Errorf("%w: host %q: give the host name (as in vmfleet status)", cliconfig.ErrConfig, args[0]))
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			ev, err := c.ForgetHost(cmd.Context(), tok, req)
			if err != nil {
				return apiError(err)
			}
			if f.asJSON {
				return printJSON(cmd.OutOrStdout(), ev)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "forgot %s (last seen %s)\n", ev.Host, ev.LastSeen.Local().Format(time.RFC3339))
			return err
		},
	}
	f.bind(cmd)
	cmd.Flags().StringVar(&req.By, "by", operatorName(), "who forgets the host (logged and published)")
	cmd.Flags().StringVar(&req.Reason, "reason", "", "why (logged and published)")
	return cmd
}
