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

// ErrNoNATS means Run was called on an orchestrator made without a NATS
// connection (or a host command was to be sent without one, or the spec
// read or written without its KV bucket: errNoSpecKV).
var ErrNoNATS = hostcmd.ErrNoNATS
