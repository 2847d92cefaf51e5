package orchestrator

import (
	"errors"

	"github.com/vmfleet/vmfleet/orchestrator/hostcmd"
)

// ErrInvalidOption is wrapped by every error an Option or a bad Config returns.
var ErrInvalidOption = errors.New("invalid option")

// ErrNotLeader is returned by mutating calls on an orchestrator that is not
// the leader; retry against the leader.
var ErrNotLeader = errors.New("not the leader")

// ErrStarting means the orchestrator has not loaded its build records yet; retry shortly.
var ErrStarting = errors.New("orchestrator is starting")

// ErrUnknownKey means no build record has the given key (see /api/v1/builds).
var ErrUnknownKey = errors.New("no build record with this key")

// ErrBuildLive means a build for the key is still live, so it cannot be retried.
var ErrBuildLive = errors.New("a build for this key is still live")

// ErrNoNATS means Run was called on an orchestrator made without a NATS
// connection (or a host command was to be sent without one).
var ErrNoNATS = hostcmd.ErrNoNATS

// errConflict is what a record store returns when a create or update lost a
// race to another writer (the key exists, or the revision moved on).
var errConflict = errors.New("build record changed concurrently")
