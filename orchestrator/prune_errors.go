package orchestrator

import "github.com/vmfleet/vmfleet/orchestrator/prunes"

// Sentinel errors of pruning and of the host API (package prunes).
var (
	ErrUnknownHost   = prunes.ErrUnknownHost
	ErrHostStale     = prunes.ErrHostStale
	ErrPruneInFlight = prunes.ErrPruneInFlight
)
