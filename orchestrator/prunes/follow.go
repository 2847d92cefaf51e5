package prunes

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
)

// FollowOutcomes records the agents' prune outcomes
// (<prefix>.prune.<host>.<result>) for the API and the metrics, whoever
// asked for the prune, until ctx ends.
func (m *Manager) FollowOutcomes(ctx context.Context) error {
	ch := make(chan *nats.Msg, 256)
	subject := m.deps.Client.Subjects.Prune("*", "*")
	sub, err := m.deps.Client.Conn.ChanSubscribe(subject, ch)
	if err != nil {
		return fmt.Errorf("subscribe to %s: %w", subject, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case msg := <-ch:
			m.Record(msg.Subject, msg.Data)
		}
	}
}

// Record takes one prune outcome an agent published on subject; one that
// does not decode, or whose host and result are not its subject's, is
// logged (once per subject per minute) and dropped.
func (m *Manager) Record(subject string, data []byte) {
	env, err := events.Decode(data)
	var out events.PruneOutcome
	if err == nil {
		out, err = events.DecodeData[events.PruneOutcome](env, events.TypePrune)
	}
	if want := m.deps.Client.Subjects.Prune(out.Host, out.Result); err == nil && subject != want {
		err = fmt.Errorf("payload host %q and result %q do not match subject %q", out.Host, out.Result, subject)
	}
	if err != nil {
		if m.rejectLog.Allow("prune:"+subject, m.deps.Now()) {
			m.log.Warn("prune outcome rejected", "subject", subject, "err", err)
		}
		return
	}
	m.out.Add(out)
	m.deps.Changed() // the dashboard shows recent prunes
	m.metrics.VMs.WithLabelValues(string(out.Result)).Inc()
	if out.Result == events.PruneDeleted && !out.DryRun && out.SizeGB > 0 {
		m.metrics.Freed.Add(float64(out.SizeGB) * 1e9)
	}
}

// FollowHistory keeps the spec keys' history (current and next, KV bucket
// vmfleet_spec) for the plans: read once at start and again after every
// change of either key (bus.SpecHistoryCache reads it only when the bucket
// moved). Until the first read no prune goes: a plan without the history
// would not know what is in its removal grace.
func (m *Manager) FollowHistory(ctx context.Context, kv jetstream.KeyValue) error {
	w, err := kv.WatchFiltered(ctx, []string{events.SpecKey, events.NextSpecKey}, jetstream.MetaOnly())
	if err != nil {
		return fmt.Errorf("watch spec history: %w", err)
	}
	defer func() { _ = w.Stop() }()
	initial := true
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return nil
			}
			if e == nil {
				initial = false // the current values are in: read once
			} else if initial {
				continue
			}
			m.loadHistory(ctx, kv)
		}
	}
}

// loadHistory reads the spec keys' history and puts it in force for the
// next pass; a failed read keeps the last one (agents re-check every prune
// with theirs).
func (m *Manager) loadHistory(ctx context.Context, kv jetstream.KeyValue) {
	hist, err := m.histCache.Load(ctx, kv)
	if err != nil {
		m.log.Warn("cannot read the spec history; prunes plan with the last one read", "err", err)
		return
	}
	if cur := m.hist.Load(); cur != nil && len(cur.Hist) == len(hist) && (len(hist) == 0 || &cur.Hist[0] == &hist[0]) {
		return // the cache's slice: nothing changed
	}
	m.UseHistory(hist)
}

// UseHistory puts the spec keys' history hist in force (FollowHistory
// does, and tests without NATS) and wakes a pass.
func (m *Manager) UseHistory(hist []events.SpecRevision) {
	m.hist.Store(NewHistory(hist))
	if m.deps.HistoryRead != nil {
		m.deps.HistoryRead(hist)
	}
	m.deps.Wake()
}

// RetainedAt is the images in their removal grace at now, by the spec
// history last read (nil before the first read).
func (m *Manager) RetainedAt(now time.Time) []events.RetainedImages {
	if h := m.hist.Load(); h != nil {
		return h.RetainedAt(now).Imgs
	}
	return nil
}
