package main

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

func newSpecHistoryCmd() *cobra.Command {
	var f opFlags
	var limit int
	cmd := &cobra.Command{
		Use:   "history",
		Short: "List the spec's changes, newest first (GET /api/v1/spec/history)",
		Long: `Lists the changes of the spec in force (key current) and of the staged spec
(key next) that KV bucket vmfleet_spec keeps (the last 64 of each key), newest
first: revision, key, when, who (--by), why (--reason) and what changed from
the key's previous revision. vmfleet spec rollback REVISION restores a
revision of key current.`,
		Example: `  vmfleet spec history
  vmfleet spec history --limit 5
  vmfleet spec history --json | jq '.revisions[] | select(.key == "current")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 0 {
				return exitCode(2, fmt.Errorf("%w: --limit %d: want a count of revisions, 0 for all", cliconfig.ErrConfig, limit))
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			h, err := c.SpecHistory(cmd.Context(), limit)
			if err != nil {
				return apiError(err)
			}
			if f.asJSON {
				return printJSON(cmd.OutOrStdout(), h)
			}
			return printHistory(cmd.OutOrStdout(), h.Revisions, time.Now())
		},
	}
	f.bind(cmd)
	cmd.Flags().IntVar(&limit, "limit", 0, "show at most this many revisions, newest first (0: all)")
	return cmd
}

// printHistory writes the spec's changes (newest first) as a table; the
// newest revision of each key that is not a delete is marked as in force or
// staged.
func printHistory(w io.Writer, changes []events.SpecHistoryEntry, now time.Time) error {
	if len(changes) == 0 {
		_, err := fmt.Fprintln(w, "no spec changes in KV vmfleet_spec yet (the spec in force comes from the orchestrator's config)")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REV\tKEY\tWHEN\tBY\tREASON\tCHANGED")
	seen := map[string]bool{}
	for _, c := range changes {
		rev := strconv.FormatUint(c.Revision, 10)
		if !seen[c.Key] && !c.Deleted {
			if c.Key == events.SpecKey {
				rev += " (in force)"
			} else {
				rev += " (staged)"
			}
		}
		seen[c.Key] = true
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", rev, c.Key, c.At.UTC().Format("2006-01-02 15:04:05Z")+" ("+since(now, c.At)+")",
			dash(c.By), dash(c.Reason), c.Changed)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// since is how long ago t was, in one rounded unit.
func since(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", max(int(d.Seconds()), 0))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

func newSpecRollbackCmd() *cobra.Command {
	var f opFlags
	var cf changeFlags
	var by, reason string
	cmd := &cobra.Command{
		Use:   "rollback [REVISION]",
		Short: "Make an earlier revision's images the spec in force (POST /api/v1/spec/rollback)",
		Long: `Restores the images (releases, bun, bootstrap, registry) of an earlier revision
of the spec in force, as vmfleet spec set with every image flag would: the
same validation, impact preview and confirmation apply (--dry-run stops after
the preview; a rollback that removes a release or makes too many hosts not
ready needs --yes), and the change is recorded with --by and "rollback to
revision N: --reason". Without REVISION it restores the latest
revision before the spec in force with other images. vmfleet spec history
lists the revisions; a staged spec's revision (key next) cannot be restored.

Images removed by the change being undone are kept on the hosts for
cleanup.removed_grace (default 24h), so within the grace a rollback makes the
hosts ready again at once, with no build.`,
		Example: `  vmfleet spec rollback --reason "releases typo"
  vmfleet spec rollback 12 --dry-run
  vmfleet spec rollback 12 --by alice --yes`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var rb api.SpecRollback
			if len(args) == 1 {
				rev, err := strconv.ParseUint(args[0], 10, 64)
				if err != nil || rev == 0 {
					return exitCode(2, fmt.Errorf("%w: revision %q: want a revision number from vmfleet spec history", cliconfig.ErrConfig, args[0]))
				}
				rb.Revision = rev
			}
			rb.By, rb.Reason = by, reason
			c, err := f.client()
			if err != nil {
				return err
			}
			return change{
				preview: func() (api.SpecPreview, error) { return c.PreviewRollback(cmd.Context(), rb) },
				apply: func(confirm bool) (events.Spec, error) {
					rb.Confirm = confirm
					return c.RollbackSpec(cmd.Context(), rb)
				},
			}.run(cmd, cf, f.asJSON)
		},
	}
	f.bind(cmd)
	cf.bind(cmd)
	cmd.Flags().StringVar(&by, "by", operatorName(), "who rolls back (recorded as updated_by)")
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded in the spec's history)")
	return cmd
}
