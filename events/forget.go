package events

import (
	"fmt"
	"time"
)

// TypeHostForgotten is the CloudEvents type of a HostForgotten.
const TypeHostForgotten = "dev.vmfleet.fleet.forget.v1"

// KindForget is the family of <prefix>.fleet.forget.
const KindForget Kind = "fleet.forget"

// HostForgotten is published by the orchestrator on <prefix>.fleet.forget
// (CloudEvents subject: the host) when it forgets a host: an operator asked
// (By, Reason), or the host was stale longer than hosts.forget_after (Auto).
// The host's events are purged from the stream, so a restarted orchestrator
// does not list it again; it comes back when it reports again.
type HostForgotten struct {
	Host string `json:"host"`
	// By is who asked (empty for an automatic forget).
	By     string `json:"by,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Auto is true when hosts.forget_after forgot the host.
	Auto bool `json:"auto,omitempty"`
	// LastSeen is when the host last reported.
	LastSeen time.Time `json:"last_seen"`
	At       time.Time `json:"at"`
}

// Validate checks a forget event.
func (f HostForgotten) Validate() error {
	if !ValidToken(f.Host) {
		return fieldErr("host", fmt.Sprintf("%q is not a host token", f.Host))
	}
	return nil
}

// HostForgotten is <prefix>.fleet.forget.
func (s Subjects) HostForgotten() string { return s.p() + ".fleet.forget" }

// HostSubjects matches every subject of one host in the stream
// (<prefix>.host.<host>.>).
func (s Subjects) HostSubjects(host string) string { return s.p() + ".host." + host + ".>" }
