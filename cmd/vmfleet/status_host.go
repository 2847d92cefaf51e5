package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

// hostStatus is `vmfleet status HOST`.
func hostStatus(cmd *cobra.Command, c *api.Client, name string, asJSON bool) error {
	host, err := hostArg(name) // host_drain.go
	if err != nil {
		return err
	}
	d, err := c.Host(cmd.Context(), host)
	if err != nil {
		return apiError(err)
	}
	if asJSON {
		return printJSON(cmd.OutOrStdout(), d)
	}
	return printHost(cmd.OutOrStdout(), d, time.Now())
}

// cellOf is release's cell, nil when there is none.
func cellOf(cells []api.Cell, release string) *api.Cell {
	for i := range cells {
		if cells[i].Release == release {
			return &cells[i]
		}
	}
	return nil
}

// waitShort is why release's missing image has nothing in flight, for the
// fleet table: " (queued 3/7 behind builds.max_concurrent)", "" when the
// cell does not say.
func waitShort(cells []api.Cell, release string) string {
	c := cellOf(cells, release)
	if c == nil || c.Wait == nil {
		return ""
	}
	w := c.Wait
	switch w.Kind {
	case api.WaitQueued:
		if w.Position == 0 {
			return fmt.Sprintf(" (%s held until %s)", w.What, w.Until.Local().Format(time.TimeOnly))
		}
		if w.Behind != "" {
			return fmt.Sprintf(" (%s queued %d/%d behind the host's pull of %s)", w.What, w.Position, w.Of, w.Behind)
		}
		return fmt.Sprintf(" (%s queued %d/%d behind %s)", w.What, w.Position, w.Of, w.Cap)
	case api.WaitBackoff:
		return fmt.Sprintf(" (%s failed %d×, retry at %s)", w.What, w.Failures, w.Until.Local().Format(time.TimeOnly))
	case api.WaitBlocked:
		return fmt.Sprintf(" (blocked: vmfleet build retry %s)", w.Key)
	}
	return ""
}

// printHost writes one host in detail.
func printHost(w io.Writer, d api.HostDetail, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	h := d.Health
	fmt.Fprintf(tw, "%s  %s  last seen %s (seq %d)", d.Host, d.State, ago(now, d.LastSeen), d.Seq)
	if h != nil && h.Agent != "" {
		fmt.Fprintf(tw, ", agent %s", h.Agent)
	}
	if h != nil && h.TartVersion != "" {
		fmt.Fprintf(tw, ", tart %s", h.TartVersion)
	}
	fmt.Fprintln(tw)
	if h != nil {
		if h.Forced.Active(now) {
			fmt.Fprintf(tw, "forced: %s\n", forcedLine(h.Forced)) // host_drain.go
		}
		if h.Queue != "" {
			fmt.Fprintf(tw, "queue: %s\n", h.Queue)
		}
		if h.Disk != nil && h.Disk.TotalBytes > 0 {
			fmt.Fprintf(tw, "disk: %d GB free of %d GB (%s)\n", h.Disk.FreeBytes>>30, h.Disk.TotalBytes>>30, h.Disk.Path)
		}
		if h.TartError != "" {
			fmt.Fprintf(tw, "tart error: %s\n", h.TartError)
		}
	}
	if d.Drift {
		fmt.Fprintf(tw, "tag drift: %s\n", driftCell(now, d.HostView))
	}
	if d.Paused {
		fmt.Fprintln(tw, "agents paused by the pause lever")
	}

	fmt.Fprintln(tw, "\nRELEASE\tSTATE\tREASON\tEXPECTED IMAGE\tIN FLIGHT OR WHY NOT")
	for _, c := range d.Cells {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Release, c.State, c.Reason, c.Image, cellWhy(c))
	}
	for _, st := range d.Staged {
		fmt.Fprintf(tw, "%s (staged)\t%s\t%s\t%s\t-\n", st.Release, map[bool]string{true: "ready", false: "missing"}[st.Ready], st.Reason, st.ExpectedImage)
	}
	if h != nil {
		fmt.Fprintf(tw, "\nVM\tSTATE\tSOURCE\tSIZE\tDISK\n")
		for _, vm := range h.VMs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d GB\t%d GB\n", vm.Name, dash(vm.State), dash(vm.Source), vm.SizeGB, vm.DiskGB)
		}
		if len(h.VMs) == 0 {
			fmt.Fprintln(tw, "(none)")
		}
	}
	if p := d.Prune; p != nil {
		fmt.Fprintln(tw)
		switch {
		case p.Window.Open:
			fmt.Fprintf(tw, "cleanup window: open until %s\n", p.Window.Closes.Local().Format(time.RFC3339))
		case !p.Window.Opens.IsZero():
			fmt.Fprintf(tw, "cleanup window: opens %s\n", p.Window.Opens.Local().Format(time.RFC3339))
		default:
			fmt.Fprintln(tw, "cleanup window: none")
		}
		var plan []string
		for _, dec := range p.Plan.Prune {
			plan = append(plan, fmt.Sprintf("prune %s (%s)", dec.VM, dec.Reason))
		}
		for _, dec := range p.Plan.Keep {
			if dec.Reason != "" {
				plan = append(plan, fmt.Sprintf("keep %s (%s, kept by %s)", dec.VM, dec.Reason, dec.Rule))
			}
		}
		if len(plan) == 0 {
			plan = []string{"nothing to prune"}
		}
		fmt.Fprintf(tw, "prune plan: %s\n", strings.Join(plan, "; "))
		if p.Status.InFlight {
			fmt.Fprintf(tw, "prune in flight since %s: %s\n", p.Status.SentAt.Local().Format(time.RFC3339), strings.Join(p.Status.VMs, ", "))
		} else if p.Status.Failures > 0 {
			fmt.Fprintf(tw, "prune failed %d times (last: %s); next at %s\n", p.Status.Failures, p.Status.Error, p.Status.NextTry.Local().Format(time.RFC3339))
		}
		if len(p.Recent) == 0 {
			fmt.Fprintln(tw, "last prune: none since the orchestrator started")
		} else {
			o := p.Recent[0]
			fmt.Fprintf(tw, "last prune: %s %s %s (%s)\n", o.At.Local().Format(time.RFC3339), o.Result, o.VM, o.Reason)
		}
	}
	return tw.Flush()
}

// cellWhy is what is on its way to a cell, or why nothing is.
func cellWhy(c api.Cell) string {
	switch {
	case c.State == api.CellReady:
		return "-"
	case c.Wait != nil:
		return c.Wait.Text
	case c.Build != nil && c.State == api.CellBuilding:
		s := fmt.Sprintf("build %s", c.Build.State)
		if c.Build.Number > 0 {
			s = fmt.Sprintf("build #%d %s", c.Build.Number, c.Build.State)
		}
		if c.Build.URL != "" {
			s += " " + c.Build.URL
		}
		return s
	case c.State == api.CellPulling:
		return "pull in flight"
	case c.Detail != "":
		return c.Detail
	}
	return "-"
}
