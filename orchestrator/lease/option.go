package lease

import (
	"fmt"
	"log/slog"
	"time"
)

// Option configures a Lease.
type Option func(*Lease) error

// WithLogger sets the lease's logger (default: discard).
func WithLogger(log *slog.Logger) Option {
	return func(l *Lease) error {
		if log == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidOption)
		}
		l.log = log
		return nil
	}
}

// WithClock sets the clock of the holder's local deadline (default
// time.Now, whose monotonic reading is what a deadline wants). The renew
// cadence runs on real timers, and the key's TTL on the server's clock.
func WithClock(now func() time.Time) Option {
	return func(l *Lease) error {
		if now == nil {
			return fmt.Errorf("%w: nil clock", ErrInvalidOption)
		}
		l.now = now
		return nil
	}
}

// WithMargin sets how long before the TTL the holder stops acting
// (default TTL/4). It covers clock rate differences and a renew's transit.
func WithMargin(d time.Duration) Option {
	return func(l *Lease) error {
		if d <= 0 {
			return fmt.Errorf("%w: lease margin %v", ErrInvalidOption, d)
		}
		l.margin = d
		return nil
	}
}

// WithNotify calls fn after every change of IsLeader seen by the
// lease's loop (taken, lost, deadline passed, handed back).
func WithNotify(fn func(leader bool)) Option {
	return func(l *Lease) error {
		if fn == nil {
			return fmt.Errorf("%w: nil notify func", ErrInvalidOption)
		}
		l.notify = append(l.notify, fn)
		return nil
	}
}
