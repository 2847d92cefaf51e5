package agentd

import "errors"

// ErrInvalidOption is wrapped by errors from options passed to New.
var ErrInvalidOption = errors.New("invalid option")

// ErrNotOurs means a VM name does not parse with the spec's name template, so
// the agent refuses to create or touch it.
var ErrNotOurs = errors.New("name does not match the image name template")

// ErrNoNATS means an operation needs a NATS connection and the agent has none.
var ErrNoNATS = errors.New("no NATS connection: set --nats-url or VMFLEET_NATS_URL")

// ErrStateFile means the agent's state file could not be read or written.
var ErrStateFile = errors.New("agent state file")

// ErrLockBusy means the host lock was not obtained before the context ended:
// another vmfleet process (publish-image, pull, prune) holds it.
var ErrLockBusy = errors.New("host lock held by another vmfleet process")

// ErrNoSpace means an image only the staged spec wants would not fit on the
// disk beside the host's images: the agent neither pulls it nor deletes a
// current image to make room (reply code no_space).
var ErrNoSpace = errors.New("not enough disk space for the staged image")
