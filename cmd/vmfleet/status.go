package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

func init() { register(newStatusCmd) }

// defaultServer is where `vmfleet status` and `vmfleet build` find the orchestrator.
const defaultServer = "http://127.0.0.1:8080"

// newAPIClient returns a client of the orchestrator's API at server.
func newAPIClient(server, token string) *api.Client { return api.NewClient(server, token) }

// apiError adds a hint to an error of a request that got no answer, or
// that was refused for want of a token.
func apiError(err error) error {
	if _, ok := errors.AsType[*url.Error](err); ok {
		return fmt.Errorf("%w (is it running? set --server or VMFLEET_SERVER)", err)
	}
	return tokenHint(err)
}

func serverFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVar(dst, "server", envOr("VMFLEET_SERVER", defaultServer), "orchestrator API base URL [env VMFLEET_SERVER]")
}

func newStatusCmd(*globalFlags) *cobra.Command {
	var server, tokenFile string
	var asJSON, watch bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "status [HOST]",
		Short: "Show the fleet, or one host in detail, as the orchestrator sees it",
		Long: `Prints every host the orchestrator knows: its state (ready, not_ready, stale),
each release's state as the dashboard shows it (ready, missing, building,
pulling, queued, blocked, stale, forced, error), the reason of anything not
ready with why nothing is on its way (queued behind which cap, backing off
until when, blocked), and when it was last heard from. Reads GET
/api/v1/hosts from the orchestrator's API.

With a HOST, prints that host in detail (GET /api/v1/hosts/HOST): per release
the state, reason and expected image, the build or pull in flight with its
Buildkite link, or its place in the queue; its drain (forced state), disk and
VMs with their sizes; its cleanup window, prune plan and last prunes.`,
		Example: `  vmfleet status
  vmfleet status mac-07                  # one host in detail
  vmfleet status --watch                 # redraw every 2s until Ctrl-C
  vmfleet status --server http://orchestrator:8080 --json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			token, err := clientToken(tokenFile)
			if err != nil {
				return err
			}
			if len(args) == 1 {
				if watch {
					return exitCode(2, fmt.Errorf("%w: --watch shows the fleet; give no HOST with it", cliconfig.ErrConfig))
				}
				return hostStatus(cmd, newAPIClient(server, token), args[0], asJSON) // status_host.go
			}
			if watch {
				return watchStatus(cmd.Context(), newAPIClient(server, token), cmd.OutOrStdout(), interval, asJSON)
			}
			resp, err := newAPIClient(server, token).Hosts(cmd.Context())
			if err != nil {
				return apiError(err)
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(resp)
			}
			return printHosts(cmd.OutOrStdout(), resp, time.Now())
		},
	}
	serverFlag(cmd, &server)
	tokenFlag(cmd, &tokenFile)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "redraw the table every --interval until interrupted (with --json: one JSON document per line)")
	cmd.Flags().DurationVar(&interval, "interval", 2*time.Second, "time between two redraws with --watch")
	return cmd
}

// printHosts writes the fleet as a table: host, state, one column per
// release, the reason of anything not ready, and when it was last seen.
func printHosts(w io.Writer, resp api.HostsResponse, now time.Time) error {
	var releases []string
	for _, h := range resp.Hosts {
		for _, r := range h.Releases {
			if !slices.Contains(releases, r.Release) {
				releases = append(releases, r.Release)
			}
		}
	}
	slices.Sort(releases)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := []string{"HOST", "STATE"}
	for _, r := range releases {
		head = append(head, "MACOS "+r)
	}
	fmt.Fprintln(tw, strings.Join(append(head, "REASON", "DRIFT", "LAST SEEN"), "\t"))
	for _, h := range resp.Hosts {
		row := []string{h.Host, stateCell(h)}
		var reasons []string
		cells := resp.Cells[h.Host]
		for _, r := range releases {
			cell := "-"
			for _, st := range h.Releases {
				if st.Release != r {
					continue
				}
				cell = "ready"
				if !st.Ready {
					cell = "not ready"
					reasons = append(reasons, r+": "+string(st.Reason)+waitShort(cells, r)) // status_host.go
				}
				if c := cellOf(cells, r); c != nil {
					cell = c.State
				}
			}
			row = append(row, cell)
		}
		for _, st := range h.Staged {
			if st.Reason == events.ReasonNoSpace {
				reasons = append(reasons, "staged "+st.Release+": no_space")
			}
		}
		reason := strings.Join(reasons, ", ")
		if reason == "" {
			reason = "-"
		}
		row = append(row, reason, driftCell(now, h), ago(now, h.LastSeen))
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if r := resp.Readiness; r != nil {
		fmt.Fprintf(tw, "\n%d hosts: %d ready, %d stale\n", r.Hosts, r.Ready, r.Stale)
		printRollout(tw, r.Rollout, now)
	}
	if l := resp.Leader; l != nil {
		fmt.Fprintln(tw, leaderLine(*l))
	}
	return tw.Flush()
}

// leaderLine says who leads, as the answering orchestrator knows it.
func leaderLine(l api.LeaderStatus) string {
	switch {
	case l.IsLeader:
		return fmt.Sprintf("leader: %s (answered by the leader)", l.Leader)
	case l.Leader == "":
		return fmt.Sprintf("leader: none known (election under way; answered by %s)", l.Instance)
	}
	return fmt.Sprintf("leader: %s (answered by follower %s)", l.Leader, l.Instance)
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t).Round(time.Second)
	if d < 0 {
		d = 0
	}
	return d.String() + " ago"
}
