// Package prunes holds the orchestrator's pruning parts that need no fleet
// state (docs/orchestrator.md#cleanup): the recent prune outcome log
// (OutcomeLog), the spec keys' history and the images in their removal
// grace (History, Retained), the disruption budget (Budget, Limit, Admit),
// and the sentinel errors of pruning and of the host API.
//
// The orchestrator core keeps the wiring: it follows the history's KV keys
// and the agents' outcomes, derives each host's prune in the reconcile pass
// and dispatches the admitted ones.
package prunes
