// Package api is the orchestrator's HTTP API as its clients see it: the
// types of every request and answer under /api/v1 (and /readyz), and Client,
// which `vmfleet` commands and the end-to-end tests use to talk to a running
// orchestrator. docs/orchestrator.md is the contract: routes, status codes
// and JSON fields.
//
// The core's own operation types (HostView, LeaderStatus, Record, the prune
// and spec-set requests and answers) are the orchestrator package's: its Go
// methods take and return them, and this package names them for HTTP
// clients, so there is one definition and the core imports neither this
// package nor orchestrator/web.
package api
