package orchestrator

import (
	"context"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/rollout"
)

// SpecRollback is POST /api/v1/spec/rollback (package rollout).
type SpecRollback = rollout.SpecRollback

// Errors of a rollback (package rollout).
var (
	ErrUnknownRevision = rollout.ErrUnknownRevision
	ErrNotRestorable   = rollout.ErrNotRestorable
)

// SpecHistory reads the spec's changes from KV, newest first.
func (o *Orchestrator) SpecHistory(ctx context.Context) ([]events.SpecHistoryEntry, error) {
	if !o.started.Load() {
		return nil, ErrStarting
	}
	if o.specKV == nil {
		return nil, errNoSpecKV
	}
	return o.rollout().History(ctx)
}

// RollbackUpdate is the update that restores a revision; SetSpec applies it.
func (o *Orchestrator) RollbackUpdate(ctx context.Context, r SpecRollback) (SpecUpdate, error) {
	return o.rollout().RollbackUpdate(ctx, r)
}

// SpecHistoryEntries are the spec's changes, newest first, from the history this
// orchestrator follows (shared slice; nil before the first read).
func (o *Orchestrator) SpecHistoryEntries() []events.SpecHistoryEntry { return o.specChanges.Entries() }

// announceSpecChange logs and publishes (leader only) a change of the spec
// keys on <prefix>.fleet.spec, whoever wrote it.
func (o *Orchestrator) announceSpecChange(c events.SpecHistoryEntry) {
	if !o.opts.isLeader() {
		return
	}
	o.log.Info("spec changed", "key", c.Key, "revision", c.Revision, "previous", c.Previous, "by", c.By, "reason", c.Reason, "changed", c.Changed)
	o.publish(context.Background(), o.subj.SpecChange(), events.TypeSpecChange, c.Key, c)
}
