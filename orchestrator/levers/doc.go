// Package levers is the orchestrator's drift check and pause lever
// (docs/routing.md): every Interval the leader lists Buildkite's agents,
// matches them to hosts (by the vmfleet-host tag, else by hostname), flags
// hosts whose agent tags disagree with their report for longer than
// DriftGrace (a tag_drift event and a gauge), and, with Pause, pauses the
// connected agents of hosts ready for no release and resumes the ones it
// paused once their host is ready again.
//
// It talks to Buildkite only through BuildkiteAgents (*buildkite.Client in
// production) and reads the core only through Deps: each host's name,
// hostname, reported tags and releases and staleness, whether this
// orchestrator leads, the term's context, and a publisher for drift events.
// It keeps no fleet state of its own beyond open drifts and its own pauses,
// which it forgets when leadership ends.
package levers
