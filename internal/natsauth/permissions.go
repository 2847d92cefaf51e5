package natsauth

import (
	"github.com/vmfleet/vmfleet/events"
)

// Role says what an identity is for; it decides its permissions.
type Role string

// Roles of the identities in a generated configuration.
const (
	// RoleHost is one CI host's agent: it speaks only for itself.
	RoleHost Role = "host"
	// RoleOrchestrator is the orchestrator (and the operator's CLI for
	// commands such as `vmfleet prune`): it commands hosts and owns JetStream.
	RoleOrchestrator Role = "orchestrator"
	// RoleConsumer is a read-only observer (dashboards, `vmfleet events`).
	RoleConsumer Role = "consumer"
)

// Permissions are one user's subject permissions. Anything not allowed is denied.
type Permissions struct {
	// Publish lists the subjects the user may publish to.
	Publish []string
	// Subscribe lists the subjects the user may subscribe to.
	Subscribe []string
	// Responses lets the user publish one reply to the reply subject of each
	// request it receives (nats-server allow_responses), and nothing else there.
	Responses bool
}

// AllInboxes is the inbox wildcard of clients that keep nats.go's default
// inbox prefix.
const AllInboxes = "_INBOX.>"

// InboxPrefix is the inbox prefix a client of the named identity must connect
// with (bus.ConnConfig.InboxPrefix): "_INBOX.<name>". Replies to its requests
// then arrive under a subject no other host may subscribe to.
func InboxPrefix(name string) string { return "_INBOX." + name }

// kvStream is the stream behind a KV bucket.
func kvStream(bucket string) string { return "KV_" + bucket }

// SpecReadSubjects are the JetStream API subjects a client publishes to read
// the spec bucket with jetstream.KeyValue, Get and Watch, and nothing more:
//
//   - $JS.API.STREAM.INFO.KV_vmfleet_spec: bind the bucket (js.KeyValue);
//   - $JS.API.DIRECT.GET.KV_vmfleet_spec.$KV.vmfleet_spec.>: Get (buckets
//     are created with direct get allowed);
//   - $JS.API.CONSUMER.CREATE.KV_vmfleet_spec.*.$KV.vmfleet_spec.>: the
//     ordered consumer behind Watch; the server insists that the filter in
//     the subject equals the one in the request, so only bucket keys can be
//     followed;
//   - $JS.API.CONSUMER.DELETE.KV_vmfleet_spec.*: Watch's Stop and its
//     resets delete their own consumer.
//
// The watcher's flow-control replies ($JS.FC....) are replies to messages
// the client receives, so they pass under Responses. A test runs Get and
// Watch against a real server with exactly these permissions.
func SpecReadSubjects() []string {
	s := kvStream(events.BucketSpec)
	keys := "$KV." + events.BucketSpec + ".>"
	return []string{
		"$JS.API.STREAM.INFO." + s,
		"$JS.API.DIRECT.GET." + s + "." + keys,
		"$JS.API.CONSUMER.CREATE." + s + ".*." + keys,
		"$JS.API.CONSUMER.DELETE." + s + ".*",
	}
}

// HostPermissions are a host's permissions (docs/security.md): publish
// exactly the subjects an agent sends — its own health and its prune
// outcomes, one subject per result — read the spec bucket, answer requests
// only through their reply subject; subscribe only to its own commands and
// its own inbox. host is the host's subject token (events.HostToken).
func HostPermissions(subj events.Subjects, host string) Permissions {
	if subj.Prefix == "" {
		subj.Prefix = events.DefaultPrefix
	}
	p := subj.Prefix
	pub := []string{subj.Health(host)}
	for _, r := range []events.PruneResult{events.PruneDeleted, events.PruneSkipped, events.PruneFailed, events.PrunePlanned} {
		pub = append(pub, subj.Prune(host, r))
	}
	return Permissions{
		Publish: append(pub, SpecReadSubjects()...),
		Subscribe: []string{
			p + ".cmd." + host + ".>",
			InboxPrefix(host) + ".>",
		},
		Responses: true,
	}
}

// orchestratorStreams are the streams the orchestrator owns.
func orchestratorStreams() []string {
	return []string{events.StreamName, kvStream(events.BucketSpec), kvStream(events.BucketBuilds), kvStream(events.BucketLeader)}
}

// OrchestratorPermissions are the orchestrator's permissions: command hosts,
// announce builds and fleet readiness, manage its own stream, buckets and
// consumers (and no other stream), write its KV buckets, and follow host,
// prune, build and fleet events. It cannot publish host health or prune
// results, so it cannot pose as a host. inbox is the subscribe subject of
// its inbox ("" means AllInboxes: the orchestrator keeps nats.go's default
// prefix unless configured otherwise).
func OrchestratorPermissions(subj events.Subjects, inbox string) Permissions {
	p := subj.Prefix
	if p == "" {
		p = events.DefaultPrefix
	}
	if inbox == "" {
		inbox = AllInboxes
	}
	pub := []string{
		p + ".cmd.>", p + ".build.>", p + ".fleet.>",
		"$JS.API.INFO", "$JS.API.STREAM.NAMES",
	}
	for _, s := range orchestratorStreams() {
		pub = append(pub,
			"$JS.API.STREAM.*."+s,        // CREATE, UPDATE, INFO, PURGE, DELETE
			"$JS.API.STREAM.MSG.*."+s,    // MSG.GET, MSG.DELETE
			"$JS.API.DIRECT.GET."+s,      // direct get by sequence or last-by-subject body
			"$JS.API.DIRECT.GET."+s+".>", // direct get of a subject's last message
			"$JS.API.CONSUMER.*."+s,      // ephemeral CREATE, NAMES, LIST
			"$JS.API.CONSUMER.*."+s+".>", // CREATE, INFO, DELETE, PAUSE of a named consumer
			"$JS.API.CONSUMER.DURABLE.CREATE."+s+".*",
			"$JS.API.CONSUMER.MSG.NEXT."+s+".*", // pull consumers
			"$JS.ACK."+s+".>", "$JS.FC."+s+".>", // acks and flow control of its consumers
		)
	}
	for _, b := range []string{events.BucketSpec, events.BucketBuilds, events.BucketLeader} {
		pub = append(pub, "$KV."+b+".>")
	}
	return Permissions{
		Publish:   pub,
		Subscribe: []string{p + ".host.>", p + ".prune.>", p + ".build.>", p + ".fleet.>", inbox},
		Responses: true,
	}
}

// ConsumerPermissions are a read-only observer's permissions: subscribe to
// every vmfleet subject, read the VMFLEET stream (stream info, stored
// messages, ephemeral consumers) and the spec bucket; publish nothing under
// the prefix and write nothing. name is the identity's name; its clients use
// InboxPrefix(name).
func ConsumerPermissions(subj events.Subjects, name string) Permissions {
	p := subj.Prefix
	if p == "" {
		p = events.DefaultPrefix
	}
	s := events.StreamName
	return Permissions{
		Publish: append([]string{
			"$JS.API.INFO",
			"$JS.API.STREAM.INFO." + s,
			"$JS.API.STREAM.MSG.GET." + s,
			"$JS.API.CONSUMER.CREATE." + s,
			"$JS.API.CONSUMER.CREATE." + s + ".*",
			"$JS.API.CONSUMER.CREATE." + s + ".*.>",
			"$JS.API.CONSUMER.DELETE." + s + ".*",
		}, SpecReadSubjects()...),
		Subscribe: []string{p + ".>", InboxPrefix(name) + ".>"},
		Responses: true,
	}
}
