package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

func init() { register(newBuildCmd) }

func newBuildCmd(*globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "build",
		Short: "List image builds, or retry a blocked one",
		Long: `Build records are kept by the orchestrator in KV vmfleet_builds, one per key: the
image (registry mode) or the image and host (key IMAGE/HOST). A key whose builds
failed max_attempts times is blocked until the spec changes or an operator runs
vmfleet build retry KEY.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newBuildListCmd(), newBuildRetryCmd())
	return cmd
}

func newBuildListCmd() *cobra.Command {
	var server, tokenFile string
	var asJSON bool
	var q api.BuildsQuery
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List build records with their Buildkite links",
		Long: `Prints every build record (GET /api/v1/builds): its key, state, attempt, the
Buildkite build's number and URL, when a failed key is tried again, and the
last error. --state and --host keep only the records in those states or
pinned to those hosts (the orchestrator filters; a registry build is for every
host and pinned to none).`,
		Example: `  vmfleet build list
  vmfleet build list --state failed,blocked
  vmfleet build list --host mac-07 --state running
  vmfleet build list --server http://orchestrator:8080 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, st := range q.States {
				for p := range strings.SplitSeq(st, ",") {
					if p = strings.TrimSpace(p); p != "" && !events.BuildState(p).Valid() {
						return exitCode(2, fmt.Errorf("%w: --state %q: want one of %s", cliconfig.ErrConfig, p, strings.Join(api.BuildStates(), ", ")))
					}
				}
			}
			token, err := clientToken(tokenFile)
			if err != nil {
				return err
			}
			resp, err := newAPIClient(server, token).ListBuilds(cmd.Context(), q)
			if err != nil {
				return apiError(err)
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(resp)
			}
			return printBuilds(cmd.OutOrStdout(), resp.Builds, time.Now())
		},
	}
	serverFlag(cmd, &server)
	tokenFlag(cmd, &tokenFile)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	cmd.Flags().StringSliceVar(&q.States, "state", nil, "only builds in these states: "+strings.Join(api.BuildStates(), ", ")+" (repeat, or comma separated)")
	cmd.Flags().StringSliceVar(&q.Hosts, "host", nil, "only builds pinned to these hosts (repeat, or comma separated)")
	return cmd
}

func printBuilds(w io.Writer, recs []api.Record, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tSTATE\tATTEMPT\tBUILD\tURL\tNEXT ATTEMPT\tERROR")
	for _, r := range recs {
		number, link, next, errText := "-", "-", "-", r.Error
		if r.Number != 0 {
			number = "#" + strconv.Itoa(r.Number)
		}
		if r.URL != "" {
			link = r.URL
		}
		if (r.State == "failed" || r.State == "canceled") && r.NextAttempt.After(now) {
			next = "in " + r.NextAttempt.Sub(now).Round(time.Second).String()
		}
		if errText == "" {
			errText = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", r.Key, r.State, r.Attempt, number, link, next, errText)
	}
	if len(recs) == 0 {
		fmt.Fprintln(tw, "(none)")
	}
	return tw.Flush()
}

func newBuildRetryCmd() *cobra.Command {
	var server, tokenFile string
	cmd := &cobra.Command{
		Use:   "retry KEY",
		Short: "Retry a blocked or failed build key from attempt 1",
		Long: `Asks the orchestrator (POST /api/v1/builds/KEY/retry) to start the key again
from attempt 1. The API's bearer token comes from --token-file or VMFLEET_API_TOKEN.`,
		Example: "  vmfleet build retry bun-build-macos-14-1.2.16-bootstrap-3.6/mac-01 --token-file /etc/vmfleet/api-token",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			token := os.Getenv("VMFLEET_API_TOKEN")
			if tokenFile != "" {
				b, err := os.ReadFile(tokenFile)
				if err != nil {
					return fmt.Errorf("%w: --token-file: %v", cliconfig.ErrConfig, err)
				}
				token = strings.TrimSpace(string(b))
			}
			rec, err := newAPIClient(server, token).Retry(cmd.Context(), args[0])
			if err != nil {
				return apiError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: retrying from attempt 1\n", rec.Key)
			return nil
		},
	}
	serverFlag(cmd, &server)
	cmd.Flags().StringVar(&tokenFile, "token-file", envOr("VMFLEET_API_TOKEN_FILE", ""), "file holding the API bearer token [env VMFLEET_API_TOKEN_FILE, or the token in VMFLEET_API_TOKEN]")
	return cmd
}
