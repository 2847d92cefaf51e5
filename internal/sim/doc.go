// Package sim is the top floor of internal/: the parts that stand a whole
// vmfleet up in one process rather than run in a fleet. Its subpackages are
//   - fleetsim: the simulated fleet behind `vmfleet demo` and `vmfleet bench`
//     (converge, ingest and agent benchmarks);
//   - buildkitefake: an in-process fake of the Buildkite REST API and its
//     webhooks;
//   - world: one builder of the shared world (embedded nats-server, the
//     VMFLEET stream and KV buckets, the fake Buildkite, an HTTP front for
//     webhooks and the API, orchestrators built against them) that fleetsim,
//     the orchestrator's external tests and the e2e tests stand on.
//
// The ground floor (internal/backoff, internal/bus, internal/cliconfig,
// internal/rungroup, internal/redact, internal/natsauth, internal/gobuild,
// internal/testlog) is plumbing the binaries and their tests share. This floor sits above agentd and
// orchestrator: only cmd/... and tests import it, never agentd or
// orchestrator code that ships, so the production binaries' dependencies stay
// free of simulators and fakes. The test in this package checks that rule
// with `go list`.
//
// Package sim itself holds no code.
package sim
