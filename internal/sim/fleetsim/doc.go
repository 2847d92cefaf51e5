// Package fleetsim runs the whole of vmfleet on one machine: a real embedded
// nats-server, a real orchestrator (package orchestrator), N simulated hosts
// each running a real agent (package agentd) over an in-memory tart
// (tarttest.Fake), and the fake Buildkite API (internal/sim/buildkitefake) whose
// builds "build" the image on the target host, or push it to a simulated
// registry from which hosts pull; all but the hosts are built by package
// world (internal/sim/world). It is what `vmfleet demo` and `vmfleet
// bench converge` run; it also holds `vmfleet bench ingest` and `bench agent`.
//
// It owns:
//   - the simulated world: host inventories (some hosts start missing
//     images, some have an image busy with a job) and disks, the simulated
//     registry, build, pull and delete durations, a bump of the spec
//     (bootstrap or bun version) written to KV bucket vmfleet_spec as
//     `vmfleet spec set` does or staged through the orchestrator's API as
//     `vmfleet spec stage --auto-promote 100%` does (Config.Rollout), and
//     the cleanup window opening later by another spec write; the world
//     follows the spec in KV, so the orchestrator's own promotion is seen
//     as the agents see it;
//   - time scaling: every duration is given in fleet time ("a build takes
//     20 minutes") and runs for duration × Scale of wall-clock time; all
//     components run on the real clock underneath;
//   - the story: what happens, told from the event stream (vmfleet.>) as any
//     consumer would see it, with a fleet progress line (Narrator);
//   - safety accounting: builds created per key against the ideal, two live
//     builds for one key, pulls of images not pushed yet, and every delete
//     checked at the moment it happens against the host's live inventory
//     (busy, expected by the spec in force or the staged spec, not ours,
//     replacement not ready, window closed, within the removal grace);
//   - the rollout's cost: from the bump to the end, the fewest hosts ready
//     for the spec in force and the time some release had no ready host
//     (Result.MinReadyHosts, Result.OutageSeconds).
//   - chaos (Config.Chaos, chaos*.go): from the bump on, faults of every
//     kind on a seeded schedule (Schedule) — builds failing or hanging,
//     the Buildkite API's 429 storms, 5xx bursts and lost create answers
//     (a proxy in front of the fake), webhooks lost, duplicated or late,
//     the leading one of two orchestrator replicas killed, the
//     nats-server restarted, hosts offline, rebooted or reimaged, tart
//     failing or hanging, VMs deleted behind vmfleet's back, disks
//     filling up, agents restarted mid-pull or mid-prune, clocks off —
//     with more safety checks (job-routing tags against the inventory,
//     the rate limit honoured, no host left behind) and the time the
//     fleet takes to heal once they stop (ChaosResult);
//   - the agents' connections: each its own, as a real agent has, until
//     the process's file descriptor limit would not fit them (two per
//     connection in one process); then a few agents share each
//     connection, and all of them one watch of the spec bucket
//     (Config.AgentsPerConn, agentd.WithSpecWatch), which is how 10,000
//     hosts fit; the orchestrator sees the same per-host traffic.
//
// It must not reach into the orchestrator's or the agents' internals: it
// drives them through their public APIs, NATS and the fake Buildkite only, so
// that what it measures is what a real fleet would do. It lives on the top
// floor (internal/sim): it must not be imported by production code other than
// cmd/vmfleet's demo and bench, and never by agentd or orchestrator.
package fleetsim
