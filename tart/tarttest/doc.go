// Package tarttest holds test doubles for tart: Fake, an in-memory tart with the
// same methods as *tart.Client (for agent and fleet simulations), and a fake
// `tart` executable whose state is a directory and whose output is exactly the
// chosen tart version's, for process-level tests.
package tarttest
