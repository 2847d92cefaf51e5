// Package bus is vmfleet's NATS plumbing: starting the embedded nats-server
// with JetStream, connecting clients with reconnects, credentials and TLS,
// wording every NATS failure with the URL, the identity and the server's
// own reason (Explain, Describe), and
// creating the VMFLEET stream and the KV buckets with the right replicas,
// following a KV watcher until its context ends (Follow), and
// reading the spec keys' history (SpecHistory, SpecHistoryCache) that the
// removal grace is computed from.
//
// It owns no fleet logic and never decides what to publish.
package bus
