// Package orchestrator is vmfleet's control plane (docs/orchestrator.md).
//
// It owns:
//   - fleet state, held by package orchestrator/hosts (hosts.go holds the
//     core's side): every host's latest health, rebuilt at start from a
//     durable JetStream consumer (deliver last per subject) and then kept
//     current; malformed, mismatched and out-of-order events are counted and
//     dropped; hosts silent for three heartbeats are stale; a host forgotten
//     by an operator or after hosts.forget_after is purged from the stream
//     and the state until it reports again (the leader forgets, in its full
//     passes; every replica follows);
//   - the reconcile loop: level-triggered on every event (dirty hosts, a
//     capacity-1 wake channel) and on a tick (a full pass), deriving from the
//     current state which builds must exist, which hosts must pull and which
//     must prune;
//   - pruning (docs/orchestrator.md#cleanup): the pass asks package
//     orchestrator/prunes for each non-stale host's prune from its last
//     report (the plan by package cleanup, inside cleanup windows or in a
//     disk emergency, keeping the staged spec's images and those in their
//     removal grace) and hands the wants, past the disruption budget, to
//     its dispatcher; the Manager follows the spec keys' history and the
//     agents' outcomes itself (prune.go holds the core's side);
//   - the wants of builds, handed to the build manager of package
//     orchestrator/builds (records in KV bucket vmfleet_builds written before
//     any Buildkite call, adoption, webhook and polling tracking, backoff,
//     caps), whose record changes it publishes as build events; while it
//     leads, the live builds no active spec wants any more are cancelled
//     on Buildkite (obsolete.go, builds.Obsolete);
//   - the queries and operations the HTTP API answers with (hosts.go,
//     query.go): hosts, builds, readiness, leadership, retry, spec set,
//     stage and promote, prune, host forget; orchestrator/web serves them (the API, the
//     dashboard, the webhook receiver) and is woken by OnChange; the core
//     imports neither it nor orchestrator/api;
//   - the drift check and the pause lever (package orchestrator/levers,
//     wired in levers.go): the leader lists Buildkite's agents, flags hosts
//     whose tags disagree with their report for longer than a grace, and
//     pauses the agents of hosts ready for no release;
//   - leadership (term.go): with the leader lease of package
//     orchestrator/lease it acts only while it holds the lease, in a term
//     context cancelled when leadership ends; a new term begins with build
//     adoption; shutdown drains work in flight, then hands the lease back;
//   - the spec: published to KV (the config file's, unless an operator's
//     `vmfleet spec set` overrides a section the config did not change) and
//     watched; set, stage, promote and unstage through the API are package
//     orchestrator/rollout's operations over the small rollout.Core the core
//     fills in (spec_set.go); build lifecycle events and fleet readiness;
//   - host commands: pulls (package orchestrator/pulls) and prunes
//     (orchestrator/prunes) are two verbs of package hostcmd's dispatcher,
//     each saying what its reply means, sent with its one Client.Send; the
//     pass hands each its wants (hostVerbs, loops.go).
//
// It must not run tart, touch a host's files, or act while it is not the
// leader (the isLeader seam: WithLease, or WithLeader); it talks to
// Buildkite only through orchestrator/buildkite's client. It decides what to
// prune from reports; the agent re-checks every rule against its live VMs
// before deleting anything.
package orchestrator
