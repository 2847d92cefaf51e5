package builds

import "errors"

// ErrUnknownKey means no build record has the given key (see /api/v1/builds).
var ErrUnknownKey = errors.New("no build record with this key")

// ErrBuildLive means a build for the key is still live, so it cannot be retried.
var ErrBuildLive = errors.New("a build for this key is still live")

// errConflict is what a record store returns when a create or update lost a
// race to another writer (the key exists, or the revision moved on).
var errConflict = errors.New("build record changed concurrently")

// errNoChange is what a mutation returns to leave the record alone.
var errNoChange = errors.New("no change")
