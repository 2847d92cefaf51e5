package buildkitefake

import "errors"

// ErrInvalidOption is wrapped by every error an Option returns.
var ErrInvalidOption = errors.New("invalid option")

// ErrNoBuild is returned by helpers when no build has the given org, pipeline and number.
var ErrNoBuild = errors.New("no such build")

// ErrNoAgent is returned by agent helpers when no agent has the given org and id.
var ErrNoAgent = errors.New("no such agent")

// ErrClosed is returned by FlushWebhooks once the server is closed.
var ErrClosed = errors.New("buildkitefake: server closed")
