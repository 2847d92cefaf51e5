package prunes

import "errors"

// Sentinel errors of pruning and of the host API.

// ErrUnknownHost means the orchestrator has no health report from the host
// (see GET /api/v1/hosts for the names it knows).
var ErrUnknownHost = errors.New("no such host")

// ErrHostStale means the host is stale (silent for several heartbeats): it
// gets no commands until it reports again.
var ErrHostStale = errors.New("host is stale")

// ErrPruneInFlight means a prune command to the host awaits its reply;
// retry once it finished (GET /api/v1/hosts/{host} shows it).
var ErrPruneInFlight = errors.New("a prune is already in flight to this host")
