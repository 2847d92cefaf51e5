package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

func newHostDrainCmd() *cobra.Command {
	var f opFlags
	var req api.DrainHostRequest
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "drain HOST",
		Short: "Take a host out of job routing (POST /api/v1/hosts/HOST/drain)",
		Long: `Drains a host through the orchestrator: the host's agent forces every release
not ready (as vmfleet agent force-not-ready does on the host), so its
buildkite-agent loses its vm-ready tags and gets no new jobs; running jobs
finish. The drain is kept on the host, shown in vmfleet status and on the
dashboard with --by and --reason, and published as a fleet.drain event
(vmfleet events). With --ttl it ends by itself; otherwise it lasts until
vmfleet host resume. Draining a drained host again replaces its reason and
TTL.

The host must be reporting: a stale host, or one whose agent does not answer,
is refused, saying so, rather than drained later.

Needs the API's bearer token (--token-file or VMFLEET_API_TOKEN).`,
		Example: `  vmfleet host drain mac-07 --reason "disk swap" --ttl 4h
  vmfleet host resume mac-07`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if ttl < 0 {
				return exitCode(2, fmt.Errorf("%w: --ttl %s is negative", cliconfig.ErrConfig, ttl))
			}
			req.TTL = events.Duration(ttl)
			return runDrainCall(cmd, &f, args[0], req, (*api.Client).DrainHost)
		},
	}
	f.bind(cmd)
	cmd.Flags().StringVar(&req.By, "by", operatorName(), "who drains the host (kept on the host and published)")
	cmd.Flags().StringVar(&req.Reason, "reason", "", "why (kept on the host and published)")
	cmd.Flags().DurationVar(&ttl, "ttl", 0, "how long the drain lasts (0: until vmfleet host resume)")
	return cmd
}

func newHostResumeCmd() *cobra.Command {
	var f opFlags
	var req api.DrainHostRequest
	cmd := &cobra.Command{
		Use:   "resume HOST",
		Short: "End a host's drain (POST /api/v1/hosts/HOST/resume)",
		Long: `Ends a host's drain, or any forced state set on the host: its agent clears it
and checks at once, so the host takes jobs again for every release whose image
it has. Published as a fleet.drain event with --by and --reason. Resuming a
host that is not drained changes nothing and says so.

Needs the API's bearer token (--token-file or VMFLEET_API_TOKEN).`,
		Example: `  vmfleet host resume mac-07 --reason "new disk in"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDrainCall(cmd, &f, args[0], req, (*api.Client).ResumeHost)
		},
	}
	f.bind(cmd)
	cmd.Flags().StringVar(&req.By, "by", operatorName(), "who resumes the host (published)")
	cmd.Flags().StringVar(&req.Reason, "reason", "", "why (published)")
	return cmd
}

// hostArg is a host name given on the command line as a host token.
func hostArg(s string) (string, error) {
	tok, err := events.HostToken(s)
	if err != nil || tok == "" {
		return "", exitCode(2, fmt.Errorf("%w: host %q: give the host name (as in vmfleet status)", cliconfig.ErrConfig, s))
	}
	return tok, nil
}

// runDrainCall sends a drain or resume of the host named on the command line
// and prints the orchestrator's answer (--json: as it came).
func runDrainCall(cmd *cobra.Command, f *opFlags, arg string, req api.DrainHostRequest,
	call func(*api.Client, context.Context, string, api.DrainHostRequest) (events.HostDrain, error)) error {
	host, err := hostArg(arg)
	if err != nil {
		return err
	}
	c, err := f.client()
	if err != nil {
		return err
	}
	ev, err := call(c, cmd.Context(), host, req)
	if err != nil {
		return apiError(err)
	}
	if f.asJSON {
		return printJSON(cmd.OutOrStdout(), ev)
	}
	_, err = fmt.Fprintln(cmd.OutOrStdout(), drainLine(ev))
	return err
}

// drainLine is the answer of a drain or resume for people.
func drainLine(ev events.HostDrain) string {
	var b strings.Builder
	if ev.Action == events.DrainActionResume {
		if ev.Was == nil {
			fmt.Fprintf(&b, "resumed %s (its last report showed no drain)", ev.Host)
			return b.String()
		}
		fmt.Fprintf(&b, "resumed %s (was %s)", ev.Host, forcedLine(ev.Was))
		return b.String()
	}
	fmt.Fprintf(&b, "drained %s", ev.Host)
	if !ev.Until.IsZero() {
		fmt.Fprintf(&b, " until %s", ev.Until.Local().Format(time.RFC3339))
	} else {
		b.WriteString(" until vmfleet host resume")
	}
	if ev.Reason != "" {
		fmt.Fprintf(&b, ": %s", ev.Reason)
	}
	if ev.Was != nil {
		fmt.Fprintf(&b, " (replaces %s)", forcedLine(ev.Was))
	}
	return b.String()
}

// forcedLine is a forced state for people: "drained by alice since
// 10:04 until 14:04: disk swap".
func forcedLine(f *events.Forced) string {
	var b strings.Builder
	if f.State == events.ForcedNotReady {
		b.WriteString("drained")
	} else {
		b.WriteString("forced ready")
	}
	if f.SetBy != "" {
		fmt.Fprintf(&b, " by %s", f.SetBy)
	}
	if !f.SetAt.IsZero() {
		fmt.Fprintf(&b, " since %s", f.SetAt.Local().Format(time.RFC3339))
	}
	if !f.Until.IsZero() {
		fmt.Fprintf(&b, " until %s", f.Until.Local().Format(time.RFC3339))
	}
	if f.Reason != "" {
		fmt.Fprintf(&b, ": %s", f.Reason)
	}
	return b.String()
}

// drainEvent is a fleet.drain event in vmfleet events.
func drainEvent(ev events.HostDrain, p func(string) string) string {
	s := p(ev.Action)
	if ev.Action == events.DrainActionExpire {
		s = p("expired") + " · drain" // of the host, at its TTL: "expired · drain by alice · until …"
	}
	if ev.By != "" {
		s += " by " + ev.By
	}
	if ev.Action == events.DrainActionDrain || ev.Action == events.DrainActionExpire {
		if ev.Until.IsZero() {
			s += " · until resumed"
		} else {
			s += " · until " + ev.Until.Format(time.RFC3339)
		}
	}
	if ev.Reason != "" {
		s += " · " + ev.Reason
	}
	return s
}
