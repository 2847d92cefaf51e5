package bus

import (
	"time"

	"github.com/nats-io/nats.go"
)

// SetClock makes violations recorded and judged by f until restore.
func SetClock(f func() time.Time) (restore func()) {
	old := clock.Swap(&f)
	return func() { clock.Store(old) }
}

// ViolationAt is when nc's error handler last recorded a permissions
// violation (zero: never).
func ViolationAt(nc *nats.Conn) time.Time {
	if i := infoOf(nc); i != nil {
		if v := i.violation.Load(); v != nil {
			return v.at
		}
	}
	return time.Time{}
}
