package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/vmfleet/vmfleet/events"
)

// formatEvent renders one event as a line for people: time, kind, who, what.
// An event that does not decode is shown as such, never dropped silently.
func formatEvent(prefix, subject string, data []byte, loc *time.Location, color bool) string {
	env, err := events.Decode(data)
	if err != nil {
		return fmt.Sprintf("%s  %-9s %-12s %s: %v", time.Now().In(loc).Format("15:04:05"), "invalid", subject, "cannot decode", err)
	}
	env.Time = env.Time.In(loc) // times in the data are shown in loc too
	kind, who, what := describe(prefix, subject, env, color)
	return fmt.Sprintf("%s  %-9s %-12s %s", env.Time.Format("15:04:05"), kind, who, what)
}

// describe returns the kind, the subject of the event (host, release,
// "fleet") and a summary of its data.
func describe(prefix, subject string, env events.Envelope, color bool) (kind, who, what string) {
	p := func(st string) string { return paint(st, color) }
	switch env.Type {
	case events.TypeHostHealth:
		h, err := events.DecodeData[events.HostHealth](env, env.Type)
		if err != nil {
			return "health", subject, "invalid: " + err.Error()
		}
		return "health", h.Host, healthLine(h, color)
	case events.TypeBuild:
		b, err := events.DecodeData[events.BuildEvent](env, env.Type)
		if err != nil {
			return "build", subject, "invalid: " + err.Error()
		}
		return "build", b.Release, buildLine(b, p)
	case events.TypePrune:
		o, err := events.DecodeData[events.PruneOutcome](env, env.Type)
		if err != nil {
			return "prune", subject, "invalid: " + err.Error()
		}
		s := p(string(o.Result)) + "  " + o.VM
		if o.DryRun {
			s += " (dry run)"
		}
		if o.Reason != "" {
			s += " · " + o.Reason
		}
		if o.SizeGB > 0 {
			s += fmt.Sprintf(" · %d GB", o.SizeGB)
		}
		return "prune", o.Host, s
	case events.TypeReadiness:
		r, err := events.DecodeData[events.FleetReadiness](env, env.Type)
		if err != nil {
			return "readiness", "fleet", "invalid: " + err.Error()
		}
		parts := []string{fmt.Sprintf("%d/%d hosts ready, %d stale", r.Ready, r.Hosts, r.Stale)}
		for _, x := range r.Releases {
			parts = append(parts, fmt.Sprintf("%s: %d/%d", x.Release, x.Ready, x.Total))
		}
		if r.Rollout != nil {
			parts = append(parts, rolloutEvent(r.Rollout, env.Time.Location()))
		}
		return "readiness", "fleet", strings.Join(parts, " · ")
	case events.TypeTagDrift:
		d, err := events.DecodeData[events.TagDrift](env, env.Type)
		if err != nil {
			return "drift", subject, "invalid: " + err.Error()
		}
		if !d.Drift {
			return "drift", d.Host, p("ended") + " · tags agree again"
		}
		return "drift", d.Host, fmt.Sprintf("%s · %s since %s · host reports %s, Buildkite has %s", p("drift"), d.Reason,
			d.Since.Format(time.RFC3339), strings.Join(d.Reported, ","), strings.Join(d.Buildkite, ","))
	case events.TypeHostForgotten:
		fg, err := events.DecodeData[events.HostForgotten](env, env.Type)
		if err != nil {
			return "forget", subject, "invalid: " + err.Error()
		}
		who := "by " + fg.By
		if fg.Auto {
			who = "automatically"
		}
		line := fmt.Sprintf("%s %s · last seen %s", p("forgotten"), who, fg.LastSeen.Format(time.RFC3339))
		if fg.Reason != "" {
			line += " · " + fg.Reason
		}
		return "forget", fg.Host, line
	case events.TypeHostDrain:
		d, err := events.DecodeData[events.HostDrain](env, env.Type)
		if err != nil {
			return "drain", subject, "invalid: " + err.Error()
		}
		return "drain", d.Host, drainEvent(d, p) // host_drain.go
	case events.TypeSpecChange:
		c, err := events.DecodeData[events.SpecHistoryEntry](env, env.Type)
		if err != nil {
			return "spec", subject, "invalid: " + err.Error()
		}
		return "spec", c.Key, specChangeLine(c)
	}
	if rest, ok := strings.CutPrefix(subject, prefix+".cmd."); ok {
		host, verb, _ := strings.Cut(rest, ".")
		return "command", host, verb + " " + compactJSON(env.Data)
	}
	return "event", subject, env.Type + " " + compactJSON(env.Data)
}

func healthLine(h events.HostHealth, color bool) string {
	p := func(st string) string { return paint(st, color) }
	state := p("ready")
	if !h.Ready {
		state = p("not ready")
	}
	var rels []string
	for _, r := range h.Releases {
		rels = append(rels, r.Release+" "+paintReason(r.Reason, color))
	}
	s := state + ": " + strings.Join(rels, ", ")
	extra := []string{fmt.Sprintf("seq %d", h.Seq), fmt.Sprintf("%d VMs", len(h.VMs))}
	if h.Disk != nil && h.Disk.TotalBytes > 0 {
		extra = append(extra, fmt.Sprintf("%d GB free", h.Disk.FreeBytes>>30))
	}
	if h.Forced != nil {
		extra = append(extra, "forced "+string(h.Forced.State))
	}
	if h.TartError != "" {
		extra = append(extra, "tart: "+h.TartError)
	}
	return s + " · " + strings.Join(extra, " · ")
}

func buildLine(b events.BuildEvent, p func(string) string) string {
	s := p(string(b.State)) + "  " + b.Image
	if b.Host != "" {
		s += " on " + b.Host
	}
	if b.Number > 0 {
		s += fmt.Sprintf(" · #%d", b.Number)
	}
	s += fmt.Sprintf(" · attempt %d", b.Attempt)
	if b.Error != "" {
		s += " · " + b.Error
	}
	if !b.NextAttempt.IsZero() {
		s += " · retry at " + b.NextAttempt.Local().Format("15:04:05")
	}
	if b.URL != "" {
		s += " · " + b.URL
	}
	return s
}

// paint colours a state word on a terminal.
func paint(s string, color bool) string {
	if !color {
		return s
	}
	code := ""
	switch s {
	case "ready", "passed", "deleted", "ended":
		code = "32"
	case "not ready", "failed", "drift", "blocked", "canceled":
		code = "31"
	case "requested", "scheduled", "running", "planned":
		code = "36"
	case "skipped":
		code = "33"
	}
	return colorize(s, code)
}

// classColors are the terminal colours of the readiness reasons' classes.
var classColors = map[string]string{events.ClassOK: "32", events.ClassBad: "31", events.ClassWarn: "33"}

// paintReason colours a readiness reason by its class (events.ReasonInfo)
// on a terminal.
func paintReason(r events.Reason, color bool) string {
	if !color {
		return string(r)
	}
	return colorize(string(r), classColors[r.Info().Class])
}

func colorize(s, code string) string {
	if code == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func compactJSON(b []byte) string {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return string(b)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// specChangeLine is a spec change for people: its revision (and the one it
// follows), what changed, who and why.
func specChangeLine(c events.SpecHistoryEntry) string {
	s := fmt.Sprintf("rev %d", c.Revision)
	if c.Previous != 0 {
		s += fmt.Sprintf(" (was %d)", c.Previous)
	}
	s += " · " + c.Changed
	if c.By != "" {
		s += " · by " + c.By
	}
	if c.Reason != "" {
		s += " · " + c.Reason
	}
	return s
}
