package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/vmfleet/vmfleet/orchestrator"
)

func init() { register(newStatusCmd) }

// defaultServer is where `vmfleet status` and `vmfleet build` find the orchestrator.
const defaultServer = "http://127.0.0.1:8080"

// apiClient talks to the orchestrator's HTTP API.
type apiClient struct {
	server string
	token  string
	hc     *http.Client
}

func newAPIClient(server, token string) *apiClient {
	return &apiClient{server: strings.TrimRight(server, "/"), token: token, hc: &http.Client{Timeout: 30 * time.Second}}
}

// do sends a request and decodes a 2xx JSON answer into out; other answers
// become errors carrying the server's message.
func (c *apiClient) do(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.server+path, nil)
	if err != nil {
		return err
	}
	return c.exchange(req, method, path, out)
}

// exchange adds the token, sends req and decodes a 2xx JSON answer into out;
// other answers become errors carrying the server's message.
func (c *apiClient) exchange(req *http.Request, method, path string, out any) error {
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("orchestrator at %s: %w (is it running? set --server or VMFLEET_SERVER)", c.server, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s %s: %s (%s)", method, path, e.Error, resp.Status)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	return json.Unmarshal(body, out)
}

func serverFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVar(dst, "server", envOr("VMFLEET_SERVER", defaultServer), "orchestrator API base URL [env VMFLEET_SERVER]")
}

func newStatusCmd(*globalFlags) *cobra.Command {
	var server, tokenFile string
	var asJSON, watch bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the fleet: every host's readiness per release, as the orchestrator sees it",
		Long: `Prints every host the orchestrator knows: its state (ready, not_ready, stale),
each release's readiness and reason, and when it was last heard from. Reads
GET /api/v1/hosts from the orchestrator's API.`,
		Example: `  vmfleet status
  vmfleet status --watch                 # redraw every 2s until Ctrl-C
  vmfleet status --server http://orchestrator:8080 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			token, err := clientToken(tokenFile)
			if err != nil {
				return err
			}
			if watch {
				return watchStatus(cmd.Context(), newAPIClient(server, token), cmd.OutOrStdout(), interval, asJSON)
			}
			var resp orchestrator.HostsResponse
			if err := newAPIClient(server, token).do(cmd.Context(), http.MethodGet, "/api/v1/hosts", &resp); err != nil {
				return err
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
func printHosts(w io.Writer, resp orchestrator.HostsResponse, now time.Time) error {
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
		for _, r := range releases {
			cell := "-"
			for _, st := range h.Releases {
				if st.Release != r {
					continue
				}
				cell = "ready"
				if !st.Ready {
					cell = "not ready"
					reasons = append(reasons, r+": "+string(st.Reason))
				}
			}
			row = append(row, cell)
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
	}
	if l := resp.Leader; l != nil {
		fmt.Fprintln(tw, leaderLine(*l))
	}
	return tw.Flush()
}

// leaderLine says who leads, as the answering orchestrator knows it.
func leaderLine(l orchestrator.LeaderStatus) string {
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
