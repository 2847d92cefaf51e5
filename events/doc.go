// Package events is vmfleet's wire contract: the CloudEvents 1.0 envelope, the
// payloads agents and the orchestrator exchange (host health, commands and their
// replies, build lifecycle, prune outcomes, fleet readiness), the NATS subject
// names, the JetStream stream and KV bucket names, the image spec with its
// name template, and validation with precise, field-named errors.
//
// It owns no I/O and imports only the standard library, so every other package
// (and any consumer of the event stream) can depend on it.
package events
