package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/api"
	"github.com/vmfleet/vmfleet/orchestrator/rollout"
)

// changeFlags are the preview flags of spec set and spec promote.
type changeFlags struct{ dryRun, yes bool }

func (f *changeFlags) bind(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.dryRun, "dry-run", false, "print the change's impact and stop: nothing is written")
	cmd.Flags().BoolVarP(&f.yes, "yes", "y", false, "confirm a change that removes a release or makes more than spec.confirm_not_ready_fraction of the hosts not ready")
}

// errRefused is a change the orchestrator would refuse, or refused, for
// want of a confirmation: nothing was written (exit 1).
var errRefused = errors.New("refused")

// change is one spec change as `spec set` and `spec promote` run it.
type change struct {
	// preview asks the orchestrator for the change's impact (a dry run).
	preview func() (api.SpecPreview, error)
	// apply makes the change, confirmed or not.
	apply func(confirm bool) (events.Spec, error)
}

// run prints the change's impact first (a table per release, or the
// preview's JSON), stops there on --dry-run, refuses without --yes a
// change that needs a confirmation, and applies it otherwise.
func (c change) run(cmd *cobra.Command, f changeFlags, asJSON bool) error {
	out := cmd.OutOrStdout()
	p, err := c.preview()
	if err != nil {
		return previewError(err)
	}
	switch {
	case f.dryRun && asJSON:
		return printJSON(out, p)
	case f.dryRun:
		printPreview(out, p)
		fmt.Fprintln(out, "dry run: nothing written")
		return nil
	case p.ConfirmNeeded && !f.yes:
		return refuse(out, p, asJSON)
	}
	if !asJSON {
		printPreview(out, p)
	}
	s, err := c.apply(f.yes)
	if r, ok := api.Refusal(err); ok {
		// The fleet moved since the preview: the orchestrator's own.
		if !asJSON {
			fmt.Fprintln(out, "\nthe orchestrator's preview when it refused:")
		}
		return refuse(out, r, asJSON)
	}
	if err != nil {
		return apiError(err)
	}
	if asJSON {
		return printJSON(out, struct {
			Preview api.SpecPreview `json:"preview"`
			Spec    events.Spec     `json:"spec"`
		}{p, s})
	}
	fmt.Fprintln(out, "\nspec in force:")
	return printSpec(out, s)
}

// refuse prints the preview of a change that needs a confirmation and
// says how to give it.
func refuse(out io.Writer, p api.SpecPreview, asJSON bool) error {
	if asJSON {
		if err := printJSON(out, p); err != nil {
			return err
		}
	} else {
		printPreview(out, p)
	}
	return exitCode(1, fmt.Errorf("%w: this change %s; nothing was written: rerun with --yes to apply it",
		errRefused, strings.Join(p.Why, " and ")))
}

// previewError explains a failed preview; an orchestrator that predates
// previews refuses the dry run's field (and so writes nothing).
func previewError(err error) error {
	var e *api.Error
	if errors.As(err, &e) && e.StatusCode == http.StatusBadRequest && strings.Contains(e.Message, `"dry_run"`) {
		return fmt.Errorf("the orchestrator cannot preview a change (it predates previews; upgrade it): nothing was written: %w", err)
	}
	return apiError(err)
}

// printPreview writes a change's impact for a human: what changes, then a
// row per release and the totals, then whether it needs a confirmation.
func printPreview(w io.Writer, p api.SpecPreview) {
	fmt.Fprintf(w, "spec %s: %s\n", p.Action, describeChange(p.From, p.To))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RELEASE\tCHANGE\tNOT READY\tREADY AFTER\tBUILDS\tCANCELLED\tPULLS\tPRUNE LATER\tIMAGE")
	for _, r := range p.Releases {
		img := r.ToImage
		if img == "" {
			img = r.FromImage
		}
		if r.Retained {
			img += " (kept within the grace)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", r.Release, r.Change, r.NotReady, r.ReadyAfter,
			r.BuildsStart, r.BuildsCancel, r.Pulls, vmsGB(r.PruneVMs, r.PruneGB), img)
	}
	t := p.Total
	fmt.Fprintf(tw, "total\t\t%d of %d (%s)\t\t%d\t%d\t%d\t%s\n", t.NotReady, p.Hosts, rollout.Percent(p.NotReadyFraction),
		t.BuildsStart, t.BuildsCancel, t.Pulls, vmsGB(t.PruneVMs, t.PruneGB))
	_ = tw.Flush()
	if t.NoSpace > 0 {
		var rels []string
		for _, r := range p.Releases {
			if r.NoSpace > 0 {
				rels = append(rels, fmt.Sprintf("%d for macOS %s", r.NoSpace, r.Release))
			}
		}
		fmt.Fprintf(w, "%d of %d hosts lack the disk space for a new image (%s), the disk emergency threshold kept free: "+
			"getting it may fail there until their old images are pruned (vmfleet status HOST shows the disk)\n",
			t.NoSpace, p.Hosts, strings.Join(rels, ", "))
	}
	if t.PruneVMs > 0 {
		fmt.Fprintf(w, "prune candidates go in a cleanup window, not before %s (the removal grace)\n",
			p.PrunableAfter.UTC().Format("2006-01-02 15:04Z"))
	}
	if p.ConfirmNeeded {
		fmt.Fprintf(w, "needs confirmation (--yes): it %s\n", strings.Join(p.Why, " and "))
	}
}

func vmsGB(vms, gb int) string {
	if vms == 0 {
		return "-"
	}
	return fmt.Sprintf("%d VMs, %d GB", vms, gb)
}

// describeChange names what differs between two image specs, e.g.
// "bootstrap 3.6 → 3.7; releases 13, 14 → 14".
func describeChange(from, to events.ImageSpec) string {
	var parts []string
	add := func(what, a, b string) {
		if a != b {
			parts = append(parts, fmt.Sprintf("%s %s → %s", what, orNone(a), orNone(b)))
		}
	}
	add("releases", strings.Join(from.Releases, ", "), strings.Join(to.Releases, ", "))
	add("bun", from.BunVersion, to.BunVersion)
	add("bootstrap", from.BootstrapVersion, to.BootstrapVersion)
	add("registry", from.Registry, to.Registry)
	add("name template", from.NameTemplate, to.NameTemplate)
	if len(parts) == 0 {
		return "no image change"
	}
	return strings.Join(parts, "; ")
}
