package fleetsim

import (
	"context"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/vmfleet/vmfleet/events"
)

// subscribe follows every vmfleet subject, as any consumer of the event
// stream may; the messages are read by consume.
func (s *Sim) subscribe(nc *nats.Conn) (*nats.Subscription, chan *nats.Msg, error) {
	ch := make(chan *nats.Msg, 1<<16)
	sub, err := nc.ChanSubscribe(s.subj.All(), ch)
	if err != nil {
		return nil, nil, fmt.Errorf("subscribe to %s: %w", s.subj.All(), err)
	}
	if err := nc.Flush(); err != nil {
		return nil, nil, fmt.Errorf("subscribe to %s: %w", s.subj.All(), err)
	}
	return sub, ch, nil
}

// consume tells the story of every message until ctx ends.
func (s *Sim) consume(ctx context.Context, ch <-chan *nats.Msg) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-ch:
			s.handle(m)
		}
	}
}

// handle turns one message into view updates and story events. Anything it
// cannot read is skipped: the orchestrator counts bad events, not the story.
func (s *Sim) handle(m *nats.Msg) {
	if m.Subject == retargetSubject {
		spec, _ := s.world.current()
		s.view.retarget(spec, s.now())
		return
	}
	p, err := s.subj.Parse(m.Subject)
	if err != nil {
		return
	}
	env, err := events.Decode(m.Data)
	if err != nil {
		return
	}
	switch p.Kind {
	case events.KindHealth:
		if h, err := events.DecodeData[events.HostHealth](env, events.TypeHostHealth); err == nil {
			judge := true
			if s.view.behind(h.SpecRevision) {
				// The host saw a change the measure has not: it
				// happened before this report. If the spec cannot be
				// read, the report is not judged against an older one.
				spec := s.specFor(h.SpecRevision)
				s.view.retarget(spec, s.now())
				judge = spec.Revision >= h.SpecRevision
			}
			if line := s.view.health(h, s.now(), judge); line != "" {
				s.emit(Event{Kind: KindHost, Host: h.Host, Text: line})
			}
		}
	case events.KindBuild:
		if b, err := events.DecodeData[events.BuildEvent](env, events.TypeBuild); err == nil {
			live := s.view.build(b)
			s.emit(Event{Kind: KindBuild, Host: b.Host, Text: buildLine(b), Live: live})
		}
	case events.KindCommand:
		s.command(p, env)
	case events.KindPrune:
		if o, err := events.DecodeData[events.PruneOutcome](env, events.TypePrune); err == nil {
			s.view.pruneOutcome(o)
			s.emit(Event{Kind: KindPrune, Host: o.Host, Text: pruneLine(o)})
		}
	case events.KindReadiness:
		if r, err := events.DecodeData[events.FleetReadiness](env, events.TypeReadiness); err == nil {
			at := s.now()
			s.view.readiness(at, r)
			ev := Event{Kind: KindProgress, Ready: r.Ready, Total: r.Hosts, Stale: r.Stale, Live: s.view.live()}
			if r.Rollout != nil {
				ev.StagedReady, ev.StagedTotal = r.Rollout.Ready, r.Rollout.Hosts
			}
			s.emit(ev)
		}
	}
}

// command tells the pull and prune requests the orchestrator sends.
func (s *Sim) command(p events.Parsed, env events.Envelope) {
	s.view.command(p.Verb)
	switch p.Verb {
	case events.VerbPull:
		if r, err := events.DecodeData[events.PullRequest](env, events.CommandType(events.VerbPull)); err == nil {
			s.emit(Event{Kind: KindPull, Host: p.Host, Text: fmt.Sprintf("%s pulling %s", p.Host, r.Source)})
		}
	case events.VerbPrune:
		if r, err := events.DecodeData[events.PruneRequest](env, events.CommandType(events.VerbPrune)); err == nil {
			s.emit(Event{Kind: KindPrune, Host: p.Host, Text: fmt.Sprintf("prune requested on %s: %s", p.Host, strings.Join(r.VMs, ", "))})
		}
	}
}

// buildLine is "build #12 passed: bun-build-macos-14-... on mac-03".
func buildLine(b events.BuildEvent) string {
	what := b.Image
	if b.Host != "" {
		what += " on " + b.Host
	} else {
		what += " for the fleet"
	}
	num := "build"
	if b.Number > 0 {
		num = fmt.Sprintf("build #%d", b.Number)
	}
	switch b.State {
	case events.BuildRequested:
		return fmt.Sprintf("build requested for %s (attempt %d)", what, b.Attempt)
	case events.BuildFailed, events.BuildCanceled, events.BuildBlocked:
		line := fmt.Sprintf("%s %s: %s", num, b.State, what)
		if b.Error != "" {
			line += ": " + b.Error
		}
		return line
	}
	return fmt.Sprintf("%s %s: %s", num, b.State, what)
}

// pruneLine is "mac-03 deleted VM (reason)" or "mac-03 kept VM: rule".
func pruneLine(o events.PruneOutcome) string {
	dry := ""
	if o.DryRun {
		dry = " (dry run)"
	}
	switch o.Result {
	case events.PruneDeleted:
		return fmt.Sprintf("%s deleted %s (%s)%s", o.Host, o.VM, o.Reason, dry)
	case events.PruneSkipped:
		return fmt.Sprintf("%s kept %s: %s%s", o.Host, o.VM, o.Reason, dry)
	case events.PrunePlanned:
		return fmt.Sprintf("%s would delete %s (%s)%s", o.Host, o.VM, o.Reason, dry)
	}
	return fmt.Sprintf("%s failed to delete %s: %s%s", o.Host, o.VM, o.Reason, dry)
}
