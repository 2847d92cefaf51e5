// Package ratelog lets one log line per source through per minute, so a
// sender of bad input (rejected health events, failed logins) is logged
// without flooding the log. Callers count every rejection in metrics.
package ratelog

import (
	"sync"
	"time"
)

// Limiter lets one line per source through per minute. The zero value is
// ready; it is safe for concurrent use.
type Limiter struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// Allow says whether a line from source may be logged at now, and if so
// records it. Past 10000 sources it forgets them all rather than grow.
func (l *Limiter) Allow(source string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.last[source]; ok && now.Sub(t) < time.Minute {
		return false
	}
	if l.last == nil || len(l.last) > 10000 {
		l.last = map[string]time.Time{}
	}
	l.last[source] = now
	return true
}
