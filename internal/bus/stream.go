package bus

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
)

// StreamMaxAge is how long the VMFLEET stream keeps events.
const StreamMaxAge = 7 * 24 * time.Hour

// DuplicateWindow is the JetStream de-duplication window for Nats-Msg-Id.
const DuplicateWindow = 2 * time.Minute

// EnsureStream creates or updates the VMFLEET stream (file storage, 7 days).
func EnsureStream(ctx context.Context, js jetstream.JetStream, subj events.Subjects, replicas int) (jetstream.Stream, error) {
	if replicas < 1 {
		replicas = 1
	}
	s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        events.StreamName,
		Description: "vmfleet host health, build and prune events",
		Subjects:    subj.StreamSubjects(),
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      StreamMaxAge,
		Duplicates:  DuplicateWindow,
		Replicas:    replicas,
		Discard:     jetstream.DiscardOld,
	})
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", events.StreamName, err)
	}
	return s, nil
}

// Buckets are vmfleet's KV buckets.
type Buckets struct {
	Spec, Builds, Leader jetstream.KeyValue
}

// EnsureBuckets creates or updates the spec, builds and leader buckets.
// leaderTTL is the lease TTL (the leader bucket's max age). The spec bucket
// keeps events.SpecHistory revisions per key, also when it already existed
// with fewer: the history is the spec's audit trail and the source of the
// removal grace (events.Retained).
func EnsureBuckets(ctx context.Context, js jetstream.JetStream, replicas int, leaderTTL time.Duration) (Buckets, error) {
	if replicas < 1 {
		replicas = 1
	}
	var b Buckets
	var err error
	if b.Spec, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: events.BucketSpec, Description: "vmfleet desired state", History: events.SpecHistory,
		Storage: jetstream.FileStorage, Replicas: replicas,
	}); err != nil {
		return b, fmt.Errorf("create KV bucket %s: %w", events.BucketSpec, err)
	}
	if b.Builds, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: events.BucketBuilds, Description: "vmfleet build records", History: 5,
		Storage: jetstream.FileStorage, Replicas: replicas,
	}); err != nil {
		return b, fmt.Errorf("create KV bucket %s: %w", events.BucketBuilds, err)
	}
	if b.Leader, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: events.BucketLeader, Description: "vmfleet orchestrator lease", History: 1,
		Storage: jetstream.FileStorage, Replicas: replicas, TTL: leaderTTL,
	}); err != nil {
		return b, fmt.Errorf("create KV bucket %s: %w", events.BucketLeader, err)
	}
	return b, nil
}
