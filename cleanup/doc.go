// Package cleanup is vmfleet's pruning policy (docs/orchestrator.md#cleanup): which VMs of a host
// may be deleted, and when (cleanup windows).
//
// It owns two things:
//   - Windows: cleanup windows parsed from cron specs (robfig/cron/v3 standard
//     syntax, CRON_TZ= or TZ= prefixes), answering "is a window open now, until
//     when" and "when does the next one open".
//   - Plan: given the image spec (and the staged one), the cleanup policy, a
//     host's inventory, its per-release readiness, its disk, the window state
//     and the images still in their removal grace (events.Retained), the VMs
//     to prune (each with the reason it is a candidate) and the VMs to keep
//     (each with the rule that protects it).
//
// Beside them, RoomNeeded, Fits and Shortfall estimate whether a new image
// fits on a host's disk next to the one it replaces: the agent's staged
// no_space and the orchestrator's spec preview share them.
//
// The orchestrator plans with the host's last health report and sends the
// pruned names; the agent plans again against its live inventory with Only set
// to those names, and deletes only what both plans agree on.
//
// It must not do I/O, start goroutines, log, or read the clock: every input,
// including "now", is a parameter, so the same inputs always give the same
// answer on the orchestrator and on the agent. (ParseWindows resolves CRON_TZ
// zones by name; the package embeds time/tzdata so that works without
// /usr/share/zoneinfo.) It imports only the standard library, events and
// robfig/cron.
package cleanup
