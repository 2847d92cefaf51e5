package main

import (
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

func init() { register(newPruneCmd) }

func newPruneCmd(*globalFlags) *cobra.Command {
	var f opFlags
	var host string
	var req api.PruneHostRequest
	cmd := &cobra.Command{
		Use:   "prune --host HOST",
		Short: "Prune a host's outdated VMs now (POST /api/v1/hosts/HOST/prune)",
		Long: `Asks the orchestrator to plan the host's cleanup now, from its last report, and
to send the prune: the agent takes the host lock, re-checks every rule against
its live VM list and deletes one VM at a time. Prints every VM's outcome:
deleted (with the reason it was outdated), skipped (with the rule that kept it,
e.g. busy when a job started on it) or failed (with tart's error).

Outside every cleanup window nothing goes without --now (or a disk emergency).
Running or suspended VMs, the spec's expected images and VMs whose names are not
vmfleet's are never deleted, --now or not. --dry-run asks the agent what it
would delete and deletes nothing. Needs the API's bearer token (--token-file or
VMFLEET_API_TOKEN). Exits 1 when a delete failed or the agent answered an error.`,
		Example: `  vmfleet prune --host mac-01 --dry-run --now
  vmfleet prune --host mac-01 --now
  vmfleet prune --host mac-01 --vm bun-build-macos-14-1.2.15-bootstrap-3.6 --now`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tok, err := events.HostToken(host)
			if err != nil || host == "" {
				return exitCode(2, fmt.Errorf("%w: --host %q: give the host name (as in vmfleet status)", cliconfig.ErrConfig, host))
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			resp, err := c.Prune(cmd.Context(), tok, req)
			if err != nil {
				return apiError(err)
			}
			if f.asJSON {
				if err := printJSON(cmd.OutOrStdout(), resp); err != nil {
					return err
				}
			} else if err := printPrune(cmd.OutOrStdout(), resp, req, time.Now()); err != nil {
				return err
			}
			return pruneExit(resp)
		},
	}
	f.bind(cmd)
	cmd.Flags().StringVar(&host, "host", "", "the host to prune (required)")
	cmd.Flags().BoolVar(&req.DryRun, "dry-run", false, "report what would be deleted, delete nothing")
	cmd.Flags().BoolVar(&req.Now, "now", false, "prune outside the cleanup windows")
	cmd.Flags().StringSliceVar(&req.VMs, "vm", nil, "prune only these VMs (repeat, or comma separated)")
	_ = cmd.MarkFlagRequired("host")
	return cmd
}

// printPrune writes the agent's outcome for every VM it was asked about, or,
// when nothing was sent, why not: the candidates and the rules keeping them.
func printPrune(w io.Writer, resp api.PruneHostResponse, req api.PruneHostRequest, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if resp.Sent {
		fmt.Fprintln(tw, "VM\tRESULT\tREASON\tSIZE")
		for _, o := range resp.Outcomes {
			size := "-"
			if o.SizeGB > 0 {
				size = fmt.Sprintf("%d GB", o.SizeGB)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", o.VM, o.Result, o.Reason, size)
		}
		if resp.Error != "" {
			fmt.Fprintf(tw, "\nagent error (%s): %s\n", resp.Code, resp.Error)
		}
		return tw.Flush()
	}
	kept := 0
	for _, d := range resp.Plan.Keep {
		if d.Reason == "" {
			continue
		}
		if kept == 0 {
			fmt.Fprintln(tw, "VM\tOUTDATED\tKEPT BY")
		}
		kept++
		fmt.Fprintf(tw, "%s\t%s\t%s\n", d.VM, d.Reason, d.Rule)
	}
	switch {
	case kept == 0:
		fmt.Fprintf(tw, "%s: nothing to prune\n", resp.Host)
	case !resp.Plan.WindowOpen && !req.Now && !resp.Plan.DiskEmergency:
		fmt.Fprintf(tw, "\n%s: nothing sent: no cleanup window is open%s; use --now to prune anyway\n", resp.Host, nextWindow(resp, now))
	default:
		fmt.Fprintf(tw, "\n%s: nothing sent: every outdated VM is kept by a rule above\n", resp.Host)
	}
	return tw.Flush()
}

func nextWindow(resp api.PruneHostResponse, now time.Time) string {
	if resp.Window.Opens.IsZero() {
		return " (none is configured)"
	}
	return fmt.Sprintf(" (the next opens at %s, in %s)", resp.Window.Opens.UTC().Format("2006-01-02 15:04Z"), resp.Window.Opens.Sub(now).Round(time.Minute))
}

// pruneExit is exit 1 when a delete failed or the agent answered an error.
func pruneExit(resp api.PruneHostResponse) error {
	if resp.Error != "" {
		return exitCode(1, errors.New("the agent answered an error (see above)"))
	}
	for _, o := range resp.Outcomes {
		if o.Result == events.PruneFailed {
			return exitCode(1, fmt.Errorf("deleting %s failed: %s", o.VM, o.Reason))
		}
	}
	return nil
}
