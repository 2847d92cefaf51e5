// Package queuepos numbers the keys waiting in one queue, oldest first: the
// "queued 2/5" the API, the dashboard and `vmfleet status` show for builds
// (orchestrator/builds) and host commands (orchestrator/hostcmd).
package queuepos

import (
	"slices"
	"strings"
	"time"
)

// Number sorts keys by the time each started waiting (since), then by
// key, and calls set with each key's place (1-based) and the queue's
// length.
func Number(keys []string, since func(key string) time.Time, set func(key string, position, of int)) {
	slices.SortFunc(keys, func(a, b string) int {
		if c := since(a).Compare(since(b)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	for i, k := range keys {
		set(k, i+1, len(keys))
	}
}
