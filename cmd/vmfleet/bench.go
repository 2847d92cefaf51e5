package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func init() { register(newBenchCmd) }

func newBenchCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure vmfleet on this machine: ingest, convergence, one agent check",
		Long: `Every figure in docs/performance.md comes from one of these commands. Each prints
a table for people, or with --json one JSON object for scripts, and exits 1 when
a safety invariant broke (violations are never a matter of speed).`,
		Example: `  vmfleet bench ingest --hosts 10000 --duration 30s
  vmfleet bench converge --hosts 1000 --releases 13,14 --registry
  vmfleet bench agent --vms 500`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newBenchIngestCmd(g), newBenchConvergeCmd(g), newBenchAgentCmd(g))
	return cmd
}

// benchRow is one line of a bench table: what, the figure, the target.
type benchRow struct{ what, figure, target string }

// writeTable prints a title and the rows, aligned.
func writeTable(w io.Writer, title string, rows []benchRow) {
	fmt.Fprintln(w, title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "what\tfigure\ttarget")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.what, r.figure, r.target)
	}
	_ = tw.Flush()
}

// verdict is "ok" or "MISSED" for a target.
func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}

// joinComma joins releases for titles.
func joinComma(xs []string) string { return strings.Join(xs, ",") }
