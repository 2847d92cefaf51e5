package events

// Names of the JetStream stream and KV buckets vmfleet uses (docs/events.md).
const (
	// StreamName keeps host, build and prune events for replay.
	StreamName = "VMFLEET"
	// BucketSpec holds the desired state under SpecKey.
	BucketSpec = "vmfleet_spec"
	// SpecKey is the key of the current spec in BucketSpec.
	SpecKey = "current"
	// NextSpecKey is the key of the staged spec in BucketSpec (absent or
	// deleted: no rollout in progress).
	NextSpecKey = "next"
	// SpecHistory is how many revisions of each spec key BucketSpec keeps:
	// the spec's audit trail and the source of the removal grace.
	SpecHistory = 64
	// BucketBuilds holds build records keyed by idempotency key.
	BucketBuilds = "vmfleet_builds"
	// BucketLeader holds the orchestrator leader lease.
	BucketLeader = "vmfleet_leader"
	// DefaultPrefix is the default subject prefix.
	DefaultPrefix = "vmfleet"
)

// Buildkite build meta-data keys and environment variables of the build contract (docs/orchestrator.md#builds).
const (
	MetaKey   = "vmfleet-key"
	MetaImage = "vmfleet-image"

	EnvImage       = "VMFLEET_IMAGE"
	EnvKey         = "VMFLEET_KEY"
	EnvRelease     = "MACOS_RELEASE"
	EnvBun         = "BUN_VERSION"
	EnvBootstrap   = "BOOTSTRAP_VERSION"
	EnvTargetHost  = "VMFLEET_TARGET_HOST"
	EnvRegistryRef = "VMFLEET_REGISTRY_REF"
)
