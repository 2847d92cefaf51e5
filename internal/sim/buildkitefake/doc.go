// Package buildkitefake is an in-process HTTP server that behaves like the
// Buildkite REST API v2 for the parts vmfleet uses, so the real go-buildkite v3
// client works against it unchanged:
//
//	srv, _ := buildkitefake.New(ctx, buildkitefake.WithToken("tok"))
//	defer srv.Close()
//	c, _ := buildkite.NewOpts(buildkite.WithTokenAuth("tok"), buildkite.WithBaseURL(srv.URL()))
//
// It owns: builds (create, get, list with the real filters and Link-header
// paging, cancel), agents (list, get, pause, resume) with test helpers to
// register agents and change their tags, bearer-token auth, RateLimit-* headers
// on every response, fault injection (429 with RateLimit-Reset, 5xx, latency),
// a build lifecycle driven by a clock the test controls (Tick, Step), state
// change hooks, HMAC-signed build webhooks delivered off the request path (one
// at a time, or from several workers as Buildkite does, each build's in order), and
// counters tests assert on (builds per vmfleet-key, live builds, requests).
//
// It also serves the agent API (/v3/..., agentapi.go) that the real
// buildkite-agent v3 speaks (exercised with v3.78.0, package realagent
// finds it): register with the agent token (WithAgentToken; the agent's tags
// become its meta-data in the REST agents list), connect, heartbeat, ping,
// disconnect, and a job's accept, start, log chunks and finish. Builds of a
// pipeline given with WithAgentPipeline become jobs, one per command step
// of the pipeline file uploaded with the build's env interpolated; a job is
// handed, in a ping answer, only to a connected, unpaused, idle agent whose
// tags match its agents rules as Buildkite matches them (key=value, '*'
// wildcards, queue=default when unnamed), within its concurrency group; the
// build's state, and so its webhooks, follow what the agent reports.
//
// Behaviour copied from the real API (docs and go-buildkite v3.13.0):
//   - create answers 201; missing commit or branch is 422
//     {"message":"Validation Failed","errors":[...]}; an unknown pipeline is 404;
//   - cancel of a scheduled build answers "canceled" at once; of a running
//     build "canceling", which becomes "canceled" on the next Tick or Step;
//     any other state is 422;
//   - lists are newest first, page/per_page (default 30, max 100), one Link
//     header with rel="first"/"prev"/"next"/"last";
//   - agent pause/resume answer 204 No Content; pausing a paused agent or
//     resuming an unpaused one is 422. The REST agent model has no "paused"
//     field, so neither does this fake's JSON (tests read it via GetAgent);
//   - the agent list omits disconnected agents;
//   - webhooks send X-Buildkite-Event and
//     X-Buildkite-Signature: timestamp=<unix>,signature=<hex HMAC-SHA256 of "<timestamp>.<body>">
//     (and X-Buildkite-Token when configured); events are build.scheduled,
//     build.running and build.finished (passed, failed or canceled).
//
// It must not: talk to the real Buildkite, sleep in tests' stead (time moves
// only through Tick/Step, or Run for demos, and for agent-driven builds
// through what their agents report), or be imported by production
// code other than the rest of the top floor (internal/sim: the simulated fleet
// behind `vmfleet demo` and `vmfleet bench`); tests of any package may use it,
// but agentd and orchestrator never import it outside their tests.
package buildkitefake
