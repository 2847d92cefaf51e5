// Package tart is vmfleet's adapter over the `tart` command line: list, get,
// delete, clone, pull, rename and version, each run with explicit arguments
// (never through a shell), with names validated first, under a per-operation
// deadline after which tart's whole process group is killed. It parses the
// output of every tart version from 1.x to 2.35 into events.VM (ParseList,
// ParseInfo; evidence in testdata/README.md) and classifies failures into
// *Error values that unwrap to ErrNotFound, ErrRunning, ErrExists,
// ErrTimeout, ErrNotInstalled, ErrBadOutput or ErrInvalidName, so callers act
// with errors.Is / errors.As — classify.go is the only place that reads
// tart's messages.
//
// It is the only package that executes tart. It owns no policy: what to
// delete and when is decided by package cleanup and the agent, and it takes
// no locks (the agent's host lock serialises builds and deletes).
package tart
