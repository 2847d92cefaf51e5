// Package web is the orchestrator's HTTP face: the read/write API
// (/healthz, /readyz, /metrics, /api/v1/...), the dashboard (GET /, its data
// and the server-sent events of /api/v1/events) and the Buildkite webhook
// receiver, behind one guard (auth.go): bearer tokens by route class,
// bodies bounded. docs/orchestrator.md is its contract; the request and
// answer types are package api's.
//
// It reads the core (package orchestrator) through its query methods and
// asks it to act (retry, spec set, stage, promote, unstage and rollback,
// prune, a
// build's webhook) through its operations; the core never imports this
// package. New builds a Server for an orchestrator; Handler is its HTTP
// handler. The hub of /api/v1/events lives here: Run runs it; it derives the
// dashboard's state every interval while anyone listens and is woken by the
// core's OnChange.
package web
