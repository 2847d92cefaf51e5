// Package builds is the orchestrator's build manager: one record per build
// key (an image in registry mode, an image on one host otherwise) in KV
// bucket vmfleet_builds, written with a compare-and-set before any Buildkite
// call, so neither two goroutines nor two orchestrators create a build twice.
//
// The manager starts what each wanted key needs next (Ensure): a create, a
// check of a create in doubt (builds listed by vmfleet-key meta-data and
// adopted), a retry after exponential backoff, or blocking after
// MaxAttempts. Live builds are tracked by webhook (ApplyWebhook) and by
// polls within a budget (Sweep); live builds are capped fleet-wide and per
// host; a 429 holds every call until the rate limit resets. A new leader
// re-reads the records and adopts the live ones (AdoptAll). Live builds
// whose image no active spec wants (Obsolete) are cancelled on Buildkite
// (CancelObsolete); such cancels of vmfleet's own are no failures: they
// neither back off nor block a key.
//
// It talks to Buildkite only through its Buildkite interface
// (*buildkite.Client in production) and knows nothing of hosts, specs or
// leadership: the orchestrator decides what is wanted and when to act. Two
// pure rules over a snapshot of records are shared with the orchestrator's
// preview of a spec change: Obsolete (a live build no active spec wants) and
// PassedFor (a registry build that pushed the image wanted).
package builds
