// Package e2e holds vmfleet's process-level fault tests (docs/reliability.md):
// real nats-server processes built from the module in go.mod, the vmfleet
// binary itself as orchestrators and agents (`vmfleet agent run` over the
// fake tart executable), and the fake Buildkite API in the test process.
// The tests kill, stop, restart and flood those processes and assert what
// must hold: no duplicate build, no VM wrongly deleted, state recovered
// within a bound, every hostile message rejected and counted.
//
// It has no non-test code beyond this file and must not be imported.
package e2e
