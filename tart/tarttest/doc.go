// Package tarttest holds test doubles for tart:
//
//   - Fake, an in-memory tart with the same methods as *tart.Client, for agent
//     and fleet simulations;
//   - a fake `tart` executable (BuildExecutable builds tart/tarttest/faketart,
//     whose logic is Run) whose state is a directory (State: NewState, Add,
//     SetState, Fail/Hang/Garbage, Calls) and whose output, messages and exit
//     codes are exactly those of the chosen tart version (Versions), for
//     process-level tests of tart.Client and of the vmfleet binary.
//
// It must not be imported by production code: only by tests, faketart and
// internal/sim/fleetsim (the simulated fleet behind `vmfleet demo` and `vmfleet bench`).
package tarttest
