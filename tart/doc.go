// Package tart is vmfleet's adapter over the `tart` command line: list, get,
// delete, clone, pull, rename and version, each run with explicit arguments
// (never through a shell) under a context deadline. It parses the output of
// every tart version from 1.x to 2.35 into events.VM and classifies failures
// (*Error unwrapping to ErrNotFound, ErrRunning, ErrTimeout, ErrNotInstalled)
// so callers act on them with errors.Is.
//
// It is the only package that executes tart. It owns no policy: what to delete
// and when is decided by package cleanup and the agent.
package tart
