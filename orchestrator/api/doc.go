// Package api is the orchestrator's HTTP API as its clients see it: the
// types of every request and answer under /api/v1 (and /readyz), and Client,
// which `vmfleet` commands and the end-to-end tests use to talk to a running
// orchestrator. docs/orchestrator.md is the contract: routes, status codes
// and JSON fields.
//
// The operation types of the core and its rooms (HostView, LeaderStatus from
// orchestrator/lease, Record from orchestrator/builds, the prune request and
// answer from orchestrator/prunes, the spec-set request) are theirs: their
// Go methods take and return them, and this package names them for HTTP
// clients, so there is one definition and the core imports neither this
// package nor orchestrator/web.
package api
