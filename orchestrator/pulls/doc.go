// Package pulls is the orchestrator's pull command verb
// (docs/orchestrator.md#reconcile): a host whose report says a release's
// image is missing, when the image is pushed to the registry, is sent a
// pull (events.PullRequest) by a hostcmd.Dispatcher keyed by host and
// image, with a fleet-wide cap, a per-host one (the agent pulls one image
// at a time), backoff after a failure, and no pull again
// before a report made after the pull's own check arrived. Its metrics are
// vmfleet_orchestrator_pulls_total and vmfleet_orchestrator_pulls_in_flight.
//
// The core derives the wants (Want) in its reconcile pass and hands them to
// the Manager's Dispatcher; the Manager keeps no fleet state and reads a
// host's latest report only through Deps.Current.
package pulls
