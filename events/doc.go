// Package events is vmfleet's wire contract: the CloudEvents 1.0 envelope and
// DecodeEither for payloads sent as a CloudEvent or as bare JSON, DecodeHealth
// (the orchestrator's ingest path: a reflection-free scanner for health events
// in the shape agents write, equal to Decode plus DecodeData), the payloads
// agents and the orchestrator exchange (host health, commands and their
// replies, build lifecycle, prune outcomes, fleet readiness), the NATS subject
// names, the JetStream stream and KV bucket names, the image spec with its
// name template (DecodeSpec, ValidateSpec), the Buildkite tag keys agents
// compute, prune reasons, what each readiness reason means (Reason.Info), and
// validation with precise, field-named errors.
//
// It owns no I/O and imports only the standard library, so every other package
// (and any consumer of the event stream) can depend on it.
package events
