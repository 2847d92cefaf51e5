package bus

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
)

// StreamMaxAge is how long the VMFLEET stream keeps events by default.
const StreamMaxAge = 7 * 24 * time.Hour

// Default limits of the VMFLEET stream (docs/reliability.md has the
// capacity arithmetic behind them).
const (
	// StreamMaxMsgsPerSubject: each subject (one host's health, one host's
	// prune outcomes of one kind, one release's builds in one state) keeps
	// its latest 10,000 events: a week of a host's health at a 60 s
	// heartbeat, what MaxAge keeps anyway.
	StreamMaxMsgsPerSubject = 10000
	// StreamMaxMsgSize bounds one stored message: the largest event the
	// decoder accepts (events.MaxEventBytes) plus room for headers. The
	// decoder, not the stream, judges an event's size, and counts the
	// oversized ones.
	StreamMaxMsgSize = events.MaxEventBytes + 4<<10
	// StreamMaxBytes bounds the whole stream; JetStream reserves it in its
	// store when the stream is made.
	StreamMaxBytes = 1 << 30
)

// StreamLimits bound what stream VMFLEET stores, whoever publishes: with
// per-subject limits one host, even a hostile one, keeps only its latest
// MaxMsgsPerSubject events per subject. The oldest events go first.
type StreamLimits struct {
	MaxAge            time.Duration
	MaxBytes          int64
	MaxMsgsPerSubject int64
	MaxMsgSize        int32
}

// DefaultStreamLimits are the limits EnsureStream applies.
func DefaultStreamLimits() StreamLimits {
	return StreamLimits{MaxAge: StreamMaxAge, MaxBytes: StreamMaxBytes, MaxMsgsPerSubject: StreamMaxMsgsPerSubject, MaxMsgSize: StreamMaxMsgSize}
}

// withDefaults fills zero limits with the defaults.
func (l StreamLimits) withDefaults() StreamLimits {
	d := DefaultStreamLimits()
	if l.MaxAge <= 0 {
		l.MaxAge = d.MaxAge
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.MaxMsgsPerSubject <= 0 {
		l.MaxMsgsPerSubject = d.MaxMsgsPerSubject
	}
	if l.MaxMsgSize <= 0 {
		l.MaxMsgSize = d.MaxMsgSize
	}
	return l
}

// DuplicateWindow is the JetStream de-duplication window for Nats-Msg-Id.
const DuplicateWindow = 2 * time.Minute

// EnsureStream creates or updates the VMFLEET stream (file storage) with
// DefaultStreamLimits.
func EnsureStream(ctx context.Context, js jetstream.JetStream, subj events.Subjects, replicas int) (jetstream.Stream, error) {
	return EnsureStreamLimits(ctx, js, subj, replicas, DefaultStreamLimits())
}

// EnsureStreamLimits creates the VMFLEET stream with limits (zero fields
// take the defaults), or updates an existing one to them: a stream made by
// an older version without limits gets them at the next start.
func EnsureStreamLimits(ctx context.Context, js jetstream.JetStream, subj events.Subjects, replicas int, limits StreamLimits) (jetstream.Stream, error) {
	if replicas < 1 {
		replicas = 1
	}
	limits = limits.withDefaults()
	s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        events.StreamName,
		Description: "vmfleet host health, build and prune events",
		Subjects:    subj.StreamSubjects(),
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      limits.MaxAge,
		MaxBytes:    limits.MaxBytes,
		// Per subject, so one host's flood evicts only its own events.
		MaxMsgsPerSubject: limits.MaxMsgsPerSubject,
		MaxMsgSize:        limits.MaxMsgSize,
		Duplicates:        DuplicateWindow,
		Replicas:          replicas,
		Discard:           jetstream.DiscardOld,
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

// PurgeSubject removes every message of stream name whose subject matches
// subject (a filter, wildcards allowed), as `nats stream purge --subject`.
func PurgeSubject(ctx context.Context, nc *nats.Conn, name, subject string) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	st, err := js.Stream(ctx, name)
	if err == nil {
		err = st.Purge(ctx, jetstream.WithPurgeSubject(subject))
	}
	if err != nil {
		return fmt.Errorf("purge %s from stream %s: %w", subject, name, err)
	}
	return nil
}
