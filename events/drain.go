package events

import (
	"fmt"
	"time"
)

// TypeHostDrain is the CloudEvents type of a HostDrain.
const TypeHostDrain = "dev.vmfleet.fleet.drain.v1"

// KindDrain is the family of <prefix>.fleet.drain.
const KindDrain Kind = "fleet.drain"

// Drain actions (HostDrain.Action).
const (
	DrainActionDrain  = "drain"
	DrainActionResume = "resume"
	// DrainActionExpire: the drain ended at its TTL (Until) on the host,
	// with no operator's action; By and Reason are the drain's, Was the
	// drain.
	DrainActionExpire = "expire"
)

// HostDrain is published by the orchestrator on <prefix>.fleet.drain
// (CloudEvents subject: the host) when an operator drains a host (its agent
// forced every release not ready, for Until when set) or resumes it (the
// forced state cleared), and when it sees a drain ended at its TTL on the
// host (expire). The drain itself lives on the host, like a forced state
// set there: in its agent's state directory and in every health event it
// publishes (HostHealth.Forced), so it outlives an orchestrator's restart
// and ends at Until without the orchestrator.
type HostDrain struct {
	Host string `json:"host"`
	// Action is drain, resume or expire.
	Action string `json:"action"`
	By     string `json:"by,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Until is when a drain ends by itself (zero: until resumed).
	Until time.Time `json:"until,omitzero"`
	// Was is the host's forced state before, as its last report said (nil:
	// none); Forced is its forced state after, as the agent replied.
	Was    *Forced   `json:"was,omitempty"`
	Forced *Forced   `json:"forced,omitempty"`
	At     time.Time `json:"at"`
}

// Validate checks a drain event.
func (d HostDrain) Validate() error {
	if !ValidToken(d.Host) {
		return fieldErr("host", fmt.Sprintf("%q is not a host token", d.Host))
	}
	if d.Action != DrainActionDrain && d.Action != DrainActionResume && d.Action != DrainActionExpire {
		return fieldErr("action", fmt.Sprintf("%q, want %q, %q or %q", d.Action, DrainActionDrain, DrainActionResume, DrainActionExpire))
	}
	return nil
}

// DrainRequest is an operator's ask to drain a host (POST
// /api/v1/hosts/{host}/drain) or, with no TTL and no reason needed, to
// resume it (POST /api/v1/hosts/{host}/resume): who and why, and for a
// drain how long (zero: until resumed).
type DrainRequest struct {
	By     string   `json:"by,omitempty"`
	Reason string   `json:"reason,omitempty"`
	TTL    Duration `json:"ttl,omitempty"`
}

// Validate checks a drain or resume of host: a host token, a TTL that is
// not negative, and By (200 bytes) and Reason (1000 bytes) of a sane size.
func (r DrainRequest) Validate(host string) error {
	if !ValidToken(host) {
		return fmt.Errorf("%w: host %q is not a host name", ErrInvalid, host)
	}
	if r.TTL < 0 {
		return fmt.Errorf("%w: ttl %s is negative", ErrInvalid, r.TTL.D())
	}
	if len(r.By) > 200 || len(r.Reason) > 1000 {
		return fmt.Errorf("%w: by (200 bytes) or reason (1000 bytes) too long", ErrInvalid)
	}
	return nil
}

// HostDrain is <prefix>.fleet.drain.
func (s Subjects) HostDrain() string { return s.p() + ".fleet.drain" }
