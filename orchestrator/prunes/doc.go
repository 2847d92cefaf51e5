// Package prunes is the orchestrator's pruning (docs/orchestrator.md#cleanup),
// everything of it that needs no fleet state, behind one Manager:
//
//   - each host's prune in a reconcile pass (Manager.View, Manager.Want): the
//     plan by package cleanup from the host's last report, cached per host
//     while its inputs stay the same (Plans), inside a cleanup window once
//     the replacement is ready or in a disk emergency, keeping the staged
//     spec's images and those in their removal grace (History, Retained,
//     read from the spec keys' KV history: Manager.FollowHistory);
//   - the disruption budget (Manager.Admit over Budget, Limit, Admit): at
//     most a share of the non-stale hosts sent a window prune per window
//     occurrence;
//   - the prune command verb (Manager.Dispatcher, a hostcmd.Dispatcher keyed
//     by host): a cap, backoff after a failure (Failure), none again to a
//     host before it reported the last one's effect; and an operator's
//     prune at once (Manager.Host, with HostRequest and HostResponse, the
//     API's types);
//   - the agents' outcomes (Manager.FollowOutcomes, Manager.Record) in a log
//     of recent ones (OutcomeLog, Manager.Recent, HostView), the metrics, and
//     the sentinel errors of pruning and of the host API.
//
// The core hands it each host's report in the pass, skipping stale hosts,
// counts the hosts the budget is a share of, and registers the verb
// (orchestrator/prune.go).
package prunes
