// Package world builds the one-process world vmfleet runs in for the
// simulator and the tests: an embedded nats-server with JetStream, the
// VMFLEET stream and the KV buckets, the fake Buildkite API
// (internal/sim/buildkitefake), an HTTP front where its webhooks arrive and
// an orchestrator's API is served, and orchestrators built against all of it.
//
//	w, err := world.New(ctx, world.WithWebhooks("secret"))
//	defer w.Close()
//	o, err := w.NewOrchestrator(orchestrator.Config{...})
//	w.Serve(o.Web.Handler())
//	o.Start()
//	defer o.Stop(10 * time.Second)
//
// It is what fleetsim (`vmfleet demo`, `vmfleet bench converge`), the
// orchestrator's external tests and the e2e tests stand on; each adds its
// own hosts (simulated, in-process agents or agent processes) and its own
// reaction to builds (Buildkite.OnStateChange).
//
// It owns the wiring only: which parts exist, how they find one another, and
// taking them down in order. It holds no fleet logic. It lives on the top
// floor (internal/sim): only cmd/vmfleet's simulator and tests import it,
// never agentd or orchestrator code that ships.
package world
