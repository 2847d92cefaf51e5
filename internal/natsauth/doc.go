// Package natsauth generates vmfleet's least-privilege nats-server
// configuration (docs/security.md): one NKey user per host, one for the
// orchestrator and optional read-only consumers, each with the publish and
// subscribe permissions its role needs and no more, all in account VMFLEET
// whose JetStream limits (sized from the stream's) bound what vmfleet
// stores, plus the seed files the clients authenticate with.
//
// It owns the permission tables, the configuration text, the seed files
// (created 0600, written atomically, kept across runs, rotated on request)
// and checking the result with nats-server's own parser. It must not connect
// to NATS, run a server, or put a secret into the server configuration: the
// configuration holds public keys only (the cluster route password, the one
// shared secret, lives in a separate 0600 include file).
package natsauth
