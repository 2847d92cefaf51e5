// Package bkagenttest provides a fake buildkite-agent executable for
// process-level tests of package bkagent, and helpers to drive and inspect it
// through its state directory.
//
// Like the real agent, the fake records how it was started (argv and
// BUILDKITE_AGENT_TAGS), "runs a job", finishes the job on the first SIGTERM
// (then exits 0) and cancels it on the second SIGTERM or on SIGQUIT; a test can hold the job
// running, and make the fake crash. It must not be used outside tests.
package bkagenttest
