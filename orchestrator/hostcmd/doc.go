// Package hostcmd sends commands to hosts' agents (pull an image, prune VMs,
// any verb an agent serves) on behalf of the orchestrator's reconcile pass.
//
// A Dispatcher is one verb's work queue: each pass hands it the commands it
// wants (Dispatch) and the dispatcher starts those that may go, each in its
// own goroutine, keeping per key (a host, or a host and what the command is
// about) whether one is in flight, the report a next command must wait for,
// and the backoff after a failure:
//   - at most Verb.Cap commands in flight fleet-wide, at most one per key,
//     and, for a verb with groups (Verb.Group: keys of a host and what the
//     command is about, grouped by host), at most Verb.GroupCap per group;
//     a want whose group is full waits without holding a slot of the cap;
//   - none again to a key before the host reported past the last one's
//     effect (Wait: the check the reply names, or the report after the one
//     the command was sent from), so that a report made while the command
//     ran does not send it again;
//   - none during a key's backoff after a failure (exponential, as the
//     verb's Backoff says);
//   - a command in flight is abandoned (ErrHostRestarted) when a want for
//     its key comes from a later boot of the host: the agent it went to
//     is gone and will never reply, and the key is free again at once
//     instead of after the command's timeout;
//   - a full pass forgets keys nobody wants any more;
//   - an operator's command (Run) goes at once, past the cap, the backoff
//     and the wait, unless one is in flight for the key; a dry run that
//     succeeded leaves no trace in the key's wait or backoff.
//
// Client.Send is the one way a command goes out: the request encoded as the
// verb's command CloudEvent, a NATS request on the host's command subject
// with a timeout, the reply decoded (a CloudEvent or the bare Reply JSON),
// and a reply that is not OK returned as an *AgentError with the agent's
// code.
//
// Adding a verb means: a request type in package events, a handler on the
// agent, a want in the reconcile pass and a Dispatcher for it (see the echo
// example in the tests).
//
// The package knows nothing of what a verb does: the caller's Verb decides
// what a reply means (Finish), logs and counts (Done).
package hostcmd
