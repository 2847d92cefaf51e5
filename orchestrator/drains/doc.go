// Package drains is an operator's drain and resume of a host through the
// orchestrator: the host's agent gets its existing force command (every
// release forced not ready, with who, why and an optional TTL, or the
// forced state cleared), the orchestrator waits for the agent's reply and
// announces the change on <prefix>.fleet.drain (events.HostDrain).
//
// The drain's state lives on the host, as a forced state set there does:
// the agent keeps it in its state directory and reports it in every health
// event (events.HostHealth.Forced), which the orchestrators rebuild their
// state from. So a drain outlives an orchestrator's restart or a change of
// leader, and its TTL ends it on the host even while no orchestrator runs.
// A host that does not answer (stale, or its agent gone) is refused with
// ErrHostOffline rather than queued: a drain that lands hours later, when
// the host comes back, would surprise more than it helps.
//
// Drain and Resume keep no state: the core checks the host against its
// fleet state and hands them the host's last forced state. A drain's end at
// its TTL needs no command; Expiries, fed every host's latest report by the
// reconcile pass on every replica, notices it (the first report checked at
// or after the TTL without the drain) and the leader announces it on
// <prefix>.fleet.drain (events.DrainActionExpire).
package drains
