// Package hosts is the orchestrator's fleet state: every host's latest
// health report (docs/orchestrator.md#fleet-state).
//
// A Fleet is rebuilt at start from a durable JetStream consumer of stream
// VMFLEET (deliver last per subject) and kept current by it (Follow,
// stream.go): ingest workers, sharded by subject so one host's events stay
// in order, decode, validate and store each event and mark the host dirty
// for the reconcile pass; malformed, mismatched, out-of-order and
// far-future events are counted by reason and dropped (ingest.go). A host
// silent for StaleHeartbeats heartbeats is stale; one stale for ForgetAfter,
// or forgotten by an operator, is purged from the stream and the state until
// it reports again, and every replica follows the leader's forgets
// (forget.go). View is a host as the read API shows it (view.go).
//
// The package holds no spec and no lease: the orchestrator core decides what
// the reports call for and whether it may act (it alone calls Forget).
package hosts

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
)

// Config is the hosts' section of the orchestrator's config. Zero fields
// take DefaultConfig's.
type Config struct {
	// StaleHeartbeats: a host silent this many heartbeats is stale (default 3).
	StaleHeartbeats int
	// DefaultHeartbeat is used for hosts that do not say theirs (default 60 s).
	DefaultHeartbeat time.Duration
	// MaxClockSkew is how far ahead of when NATS stored it (and of the
	// orchestrator's clock) a health event's checked_at may be; an event
	// further ahead is rejected (clock_skew) and cannot hold back the host's
	// later reports (default 5 m, at least 1 s, at most 24 h; key
	// hosts.max_clock_skew).
	MaxClockSkew time.Duration
	// ForgetAfter: a host stale this long is forgotten (forget.go): purged
	// from the stream and the fleet state (key hosts.forget_after, default 7 days).
	ForgetAfter time.Duration
}

// DefaultConfig is the hosts' defaults.
func DefaultConfig() Config {
	return Config{StaleHeartbeats: 3, DefaultHeartbeat: 60 * time.Second, MaxClockSkew: 5 * time.Minute, ForgetAfter: 7 * 24 * time.Hour}
}

// WithDefaults fills zero fields from DefaultConfig.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if c.StaleHeartbeats == 0 {
		c.StaleHeartbeats = d.StaleHeartbeats
	}
	for _, p := range []struct{ v, d *time.Duration }{{&c.DefaultHeartbeat, &d.DefaultHeartbeat},
		{&c.MaxClockSkew, &d.MaxClockSkew}, {&c.ForgetAfter, &d.ForgetAfter}} {
		if *p.v == 0 {
			*p.v = *p.d
		}
	}
	return c
}

// Validate names the key of a field out of range.
func (c Config) Validate() error {
	switch {
	case c.StaleHeartbeats < 1:
		return fmt.Errorf("stale_heartbeats: %d: must be 1 or more", c.StaleHeartbeats)
	case c.DefaultHeartbeat < 0:
		return fmt.Errorf("heartbeat: must not be negative")
	case c.MaxClockSkew < time.Second || c.MaxClockSkew > 24*time.Hour:
		return fmt.Errorf("hosts.max_clock_skew: %s: must be between 1s and 24h, e.g. 5m", c.MaxClockSkew)
	case c.ForgetAfter < time.Minute:
		return fmt.Errorf("hosts.forget_after: %s: must be at least 1m, e.g. 168h", c.ForgetAfter)
	}
	return nil
}

// Deps is what the Fleet needs of the orchestrator core; every field may be
// left zero in tests.
type Deps struct {
	Log *slog.Logger     // default: discard
	Now func() time.Time // the orchestrator's clock; default time.Now
	// Reg gets the ingest metrics (nil: none).
	Reg prometheus.Registerer
	// Conn is the NATS connection forgets purge the stream and follow the
	// leader's forgets with (nil: no forgets).
	Conn *nats.Conn
	// Publish publishes one event (a host forgotten).
	Publish func(subject, typ, subjAttr string, data any)
	// Wake asks for a reconcile pass: a host was forgotten.
	Wake func()
}

func (d Deps) withDefaults() Deps {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Publish == nil {
		d.Publish = func(string, string, string, any) {}
	}
	if d.Wake == nil {
		d.Wake = func() {}
	}
	return d
}
