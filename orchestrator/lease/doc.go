// Package lease is the orchestrators' leader lease: one key (Key) in KV
// bucket vmfleet_leader, taken with a Create, renewed every TTL/3 with an
// Update at the held revision, and handed back with a Delete at that
// revision. The holder acts only before its own monotonic deadline (its
// last renew + TTL − margin, TTL/4 by default), so it has stopped before the
// key can expire on the server and another replica can take it.
//
// The orchestrator runs a Lease given with orchestrator.WithLease for the
// life of its Run and begins a term (build adoption) whenever it starts to
// lead; this package knows nothing of terms or builds.
package lease
