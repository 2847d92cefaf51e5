package orchestrator

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// ErrLeaseNoTTL means the lease bucket has no TTL, so a crashed leader's
// lease would never expire: create it with bus.EnsureBuckets.
var ErrLeaseNoTTL = errors.New("lease bucket needs a TTL")

// LeaseOption configures a Lease.
type LeaseOption func(*Lease) error

// WithLeaseLogger sets the lease's logger (default: discard).
func WithLeaseLogger(log *slog.Logger) LeaseOption {
	return func(l *Lease) error {
		if log == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidOption)
		}
		l.log = log
		return nil
	}
}

// WithLeaseClock sets the clock of the holder's local deadline (default
// time.Now, whose monotonic reading is what a deadline wants). The renew
// cadence runs on real timers, and the key's TTL on the server's clock.
func WithLeaseClock(now func() time.Time) LeaseOption {
	return func(l *Lease) error {
		if now == nil {
			return fmt.Errorf("%w: nil clock", ErrInvalidOption)
		}
		l.now = now
		return nil
	}
}

// WithLeaseMargin sets how long before the TTL the holder stops acting
// (default TTL/4). It covers clock rate differences and a renew's transit.
func WithLeaseMargin(d time.Duration) LeaseOption {
	return func(l *Lease) error {
		if d <= 0 {
			return fmt.Errorf("%w: lease margin %v", ErrInvalidOption, d)
		}
		l.margin = d
		return nil
	}
}

// WithLeaseNotify calls fn after every change of IsLeader seen by the
// lease's loop (taken, lost, deadline passed, handed back).
func WithLeaseNotify(fn func(leader bool)) LeaseOption {
	return func(l *Lease) error {
		if fn == nil {
			return fmt.Errorf("%w: nil notify func", ErrInvalidOption)
		}
		l.notify = append(l.notify, fn)
		return nil
	}
}
