package natsauth

import (
	"fmt"

	"github.com/vmfleet/vmfleet/internal/bus"
)

// AccountName is the account every generated user belongs to: its
// JetStream limits bound what all of vmfleet may store on the server.
const AccountName = "VMFLEET"

// Defaults of the account's JetStream limits (docs/security.md, "JetStream
// account limits", has the arithmetic).
const (
	// KVStoreAllowance is the store the KV buckets (spec with its history,
	// build records, the lease) get beside stream VMFLEET, per replica.
	KVStoreAllowance = 256 << 20
	// DefaultMaxMemory is the account's memory store: vmfleet keeps
	// nothing in memory streams; this bounds an operator's own.
	DefaultMaxMemory = 64 << 20
	// DefaultMaxStreams: VMFLEET and the three KV buckets, and as many
	// again for an operator's own (a mirror, a backup).
	DefaultMaxStreams = 8
	// ConsumersPerIdentity and ConsumerHeadroom size max_consumers, a cap
	// per stream: every agent watches the spec bucket (one consumer, two
	// while a watch resets), a consumer identity tails VMFLEET, and the
	// orchestrators hold a handful.
	ConsumersPerIdentity = 2
	ConsumerHeadroom     = 64
)

// AccountLimits are the JetStream limits of account VMFLEET. Zero fields
// are derived (Resolve); -1 means unlimited.
type AccountLimits struct {
	// StreamMaxBytes is the orchestrator's nats.stream.max_bytes the store
	// is sized for (0: bus.StreamMaxBytes, 1 GiB).
	StreamMaxBytes int64
	// Replicas of the stream and buckets (0: 3 on a cluster node, else
	// 1). nats-server counts a stream's bytes once per replica against
	// the account.
	Replicas int
	// MaxMemory is the memory store (0: DefaultMaxMemory).
	MaxMemory int64
	// MaxStore is the file store (0: Replicas × (StreamMaxBytes +
	// KVStoreAllowance)).
	MaxStore int64
	// MaxStreams (0: DefaultMaxStreams).
	MaxStreams int
	// MaxConsumers is a cap per stream (0: ConsumersPerIdentity × users +
	// ConsumerHeadroom).
	MaxConsumers int
}

// Resolve fills the zero limits for a configuration with users users;
// cluster says whether the server is a cluster node.
func (l AccountLimits) Resolve(users int, cluster bool) AccountLimits {
	if l.StreamMaxBytes == 0 {
		l.StreamMaxBytes = bus.StreamMaxBytes
	}
	if l.Replicas == 0 {
		l.Replicas = 1
		if cluster {
			l.Replicas = 3
		}
	}
	if l.MaxMemory == 0 {
		l.MaxMemory = DefaultMaxMemory
	}
	if l.MaxStore == 0 {
		l.MaxStore = int64(l.Replicas) * (l.StreamMaxBytes + KVStoreAllowance)
	}
	if l.MaxStreams == 0 {
		l.MaxStreams = DefaultMaxStreams
	}
	if l.MaxConsumers == 0 {
		l.MaxConsumers = ConsumersPerIdentity*users + ConsumerHeadroom
	}
	return l
}

// WithAccountLimits sets the JetStream limits of account VMFLEET; zero
// fields are derived (AccountLimits.Resolve).
func WithAccountLimits(l AccountLimits) Option {
	return func(g *Generator) error {
		switch {
		case l.StreamMaxBytes < 0 || (l.StreamMaxBytes > 0 && l.StreamMaxBytes < 1<<20):
			return invalid("stream max bytes %d: want at least 1048576 (1 MiB), as nats.stream.max_bytes", l.StreamMaxBytes)
		case l.Replicas < 0 || l.Replicas > 5:
			return invalid("replicas %d: want 1 to 5", l.Replicas)
		case l.MaxMemory < -1 || l.MaxStore < -1 || l.MaxStreams < -1 || l.MaxConsumers < -1:
			return invalid("JetStream account limits: want a positive number, or -1 for unlimited")
		}
		g.server.Limits = l
		return nil
	}
}

// renderLimits writes the account's jetstream block.
func renderLimits(l AccountLimits) string {
	return fmt.Sprintf("    # JetStream limits of everything vmfleet stores (docs/security.md): the store holds\n"+
		"    # %d replica(s) of stream VMFLEET (nats.stream.max_bytes %d) and of the KV buckets.\n"+
		"    jetstream {\n      max_memory: %d\n      max_file: %d\n      max_streams: %d\n      max_consumers: %d\n    }\n",
		l.Replicas, l.StreamMaxBytes, l.MaxMemory, l.MaxStore, l.MaxStreams, l.MaxConsumers)
}
