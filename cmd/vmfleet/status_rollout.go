package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/vmfleet/vmfleet/events"
)

// printRollout adds a staged rollout's progress to `vmfleet status`: what
// the staged spec changes, how many hosts hold every staged image and how
// many have no room, the auto-promote's threshold and how far it is, the
// ETA, and per staged release the hosts holding the image with its builds
// and pulls in flight.
func printRollout(w io.Writer, r *events.Rollout, now time.Time) {
	if r == nil {
		return
	}
	head := fmt.Sprintf("rollout: staged revision %d", r.NextRevision)
	if !r.StagedAt.IsZero() {
		head += ", staged " + ago(now, r.StagedAt)
	}
	if len(r.Changes) > 0 {
		head += ": " + changesLine(r.Changes)
	}
	fmt.Fprintln(w, head)
	line := fmt.Sprintf("  %d of %d hosts hold every staged image", r.Ready, r.Hosts)
	if r.NoSpace > 0 {
		line += fmt.Sprintf("; %d without room for one (no_space: they get it after promotion)", r.NoSpace)
	}
	fmt.Fprintln(w, line)
	fmt.Fprintln(w, "  "+promoteLine(r))
	if r.ETA != nil {
		fmt.Fprintln(w, "  "+etaLine(*r.ETA, now))
	}
	for _, sr := range r.Releases {
		fmt.Fprintf(w, "  macOS %s\t%s\t%d/%d hosts\t%s\t%d no space\t%d builds, %d pulls in flight\n",
			sr.Release, sr.Image, sr.Ready, sr.Total, bar(sr.Ready, sr.Total, 20), sr.NoSpace, sr.Builds, sr.Pulls)
	}
}

// changesLine says what a staged spec changes: "bootstrap 3.6 → 3.7".
func changesLine(cs []events.SpecFieldChange) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("%s %s → %s", c.Field, orNone(c.From), orNone(c.To))
	}
	return strings.Join(parts, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// promoteLine says how the rollout ends: by hand, or at the auto-promote's
// threshold and how far it is.
func promoteLine(r *events.Rollout) string {
	if r.AutoPromote <= 0 {
		return "promote by hand: vmfleet spec promote"
	}
	s := fmt.Sprintf("auto-promote at %s: %d of %d hosts", percent(r.AutoPromote), r.AutoPromoteHosts, r.Hosts)
	if left := r.AutoPromoteHosts - r.Ready; left > 0 {
		return s + fmt.Sprintf(", %d to go", left)
	}
	return s + ", reached: promoting"
}

func percent(f float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", f*100), "0"), ".") + "%"
}

// etaLine says when the rollout should reach its target, and on what basis.
func etaLine(e events.RolloutETA, now time.Time) string {
	at := func() string {
		d := e.At.Sub(now).Round(time.Second)
		when := "in " + d.String()
		if d < 0 {
			when = (-d).String() + " ago"
		}
		return e.At.In(now.Location()).Format("15:04 MST") + " (" + when + ")"
	}
	switch e.Basis {
	case events.ETARate:
		return fmt.Sprintf("ETA %s for %d hosts: %s, %.1f hosts/h", at(), e.Target, e.Why, e.HostsPerHour)
	case events.ETABuild:
		return fmt.Sprintf("ETA of the first hosts %s: %s", at(), e.Why)
	case events.ETADone:
		return "target reached: " + e.Why
	}
	return "ETA unknown: " + e.Why
}

// bar draws done of total as a text progress bar of width cells.
func bar(done, total, width int) string {
	n := 0
	if total > 0 {
		n = min(width, done*width/total)
	}
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}

// rolloutEvent is a readiness event's rollout for `vmfleet events`: the
// staged revision's hosts, room, builds and pulls, and the ETA.
func rolloutEvent(r *events.Rollout, loc *time.Location) string {
	var builds, pulls int
	for _, sr := range r.Releases {
		builds, pulls = builds+sr.Builds, pulls+sr.Pulls
	}
	s := fmt.Sprintf("rollout rev %d: %d/%d hosts hold the staged images", r.NextRevision, r.Ready, r.Hosts)
	if r.AutoPromoteHosts > 0 {
		s += fmt.Sprintf(" (auto-promote at %d)", r.AutoPromoteHosts)
	}
	s += fmt.Sprintf(", %d no space, %d builds, %d pulls in flight", r.NoSpace, builds, pulls)
	if e := r.ETA; e != nil {
		switch e.Basis {
		case events.ETARate, events.ETABuild:
			s += fmt.Sprintf(", ETA %s (%s)", e.At.In(loc).Format("15:04:05"), e.Basis)
		case events.ETADone:
			s += ", target reached"
		default:
			s += ", ETA unknown"
		}
	}
	return s
}
