// Package rollout holds the operator's spec operations of the orchestrator
// (docs/orchestrator.md): set the spec in force, stage a spec beside it
// (KV key next), promote or unstage it, and the auto-promote decision.
// Each operation validates the spec (the core's check on top of
// events.ValidateSpec) and writes KV bucket vmfleet_spec with
// compare-and-set on the key's revision, retried on a race.
//
// The spec's history (history.go) is the KV bucket's: HistoryEntries turns it into
// who, why, when and what changed per revision (GET /api/v1/spec/history,
// the events on <prefix>.fleet.spec that the core announces through
// ChangeLog), and RollbackUpdate turns a revision into the spec update that
// restores it, applied by the same path as any spec set.
//
// It also holds the spec's pure rules the core's watches share:
// ValidateSpec (events.ValidateSpec and the cleanup windows' schedules),
// DecodeSpec, SameSpec, MergeConfigSpec with the seed (SeedKey, ReadSeed,
// WriteSeed) that lets an operator's set survive restarts, and StagedReady;
// Staged, the staged spec in force with the watch of key next that the
// core runs; and the spec in force's own side (sync.go): Ops.Sync publishes
// the configured spec at start and Ops.WatchCurrent follows key current.
//
// Preview is the pure impact of a spec change over a snapshot of the fleet
// (Fleet): per release, the hosts that would become not ready, the builds
// that would start or be cancelled, the VMs and GB that would become prune
// candidates, and whether the change needs an explicit confirmation.
//
// A staged rollout's progress as operators watch it: Changes (what the
// staged spec changes), PromoteHosts (the auto-promote's threshold in
// hosts, which AutoPromote uses too), Estimate (the ETA: from the rate
// hosts came to hold every staged image over a recent window, before
// any host does from the live staged builds' typical duration, else
// unknown with the reason), Tracker (the counts over time the estimate
// reads) and SameProgress (when a readiness is worth publishing again).
//
// It reaches the orchestrator's core only through Core: the KV bucket, the
// spec in force, the staged spec setter, and the core's reactions (unblock
// the images' builds, Trigger a reconcile pass). The watch that keeps the
// core's current spec stays in the core.
package rollout
