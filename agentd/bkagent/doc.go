// Package bkagent makes Buildkite send macOS jobs only to hosts whose VM image
// is ready (docs/routing.md). Agent tags cannot change while buildkite-agent runs,
// and `buildkite-agent meta-data set` writes build meta-data, not tags; so
// this package computes the tags from a check's HostHealth and restarts the
// Buildkite agent, gracefully, when they change.
//
// It owns:
//   - Tags: the tag set for a HostHealth (per-release readiness, image,
//     bootstrap and bun versions; the seed's unsuffixed names on a
//     single-release host; vm-image-<name>=true for each image of an active
//     spec, current or staged, the host holds ready; vmfleet-host; optional
//     queue routing), merged with
//     the operator's own tags, in a deterministic order; Equal compares sets;
//   - lever supervise (Supervisor): buildkite-agent runs as agentd's child and
//     is restarted with new tags after one SIGTERM lets its running job finish;
//   - lever command (Commander): the tags are written atomically to a file and
//     a configured restart command is run, only when they changed.
//
// Both levers implement agentd's TagApplier seam (Apply). The orchestrator's
// lever pause and the drift check are not here (package orchestrator/levers
// talks to Buildkite's API; this package never does).
//
// It must not run tart, must not talk to NATS or Buildkite's API, and must
// never run anything through a shell: buildkite-agent and the restart command
// are executed with the explicit argv they were configured with.
package bkagent
