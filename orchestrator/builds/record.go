package builds

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
)

// Record is a build record in KV bucket vmfleet_builds, one per key: an image
// in registry mode, an image on one host otherwise. It is written before any
// Buildkite call, so a build never exists without its record.
type Record struct {
	Key     string `json:"key"`
	Image   string `json:"image"`
	Release string `json:"release"`
	// Host is set in host mode: the build is pinned to it.
	Host string `json:"host,omitempty"`
	// RegistryRef is set in registry mode: where the build pushes the image.
	RegistryRef string `json:"registry_ref,omitempty"`
	Bun         string `json:"bun"`
	Bootstrap   string `json:"bootstrap"`
	// Digest identifies the build parameters; a record whose digest differs
	// from the current spec's (a spec change) starts again from attempt 1.
	Digest string            `json:"digest"`
	State  events.BuildState `json:"state"`
	// Attempt counts builds tried for this key; Try counts create calls within
	// the attempt (a create in doubt is checked, then tried again).
	Attempt int `json:"attempt"`
	Try     int `json:"try"`
	// Number and URL name the Buildkite build, once known.
	Number         int    `json:"number,omitempty"`
	URL            string `json:"url,omitempty"`
	BuildkiteState string `json:"buildkite_state,omitempty"`
	// Doubt marks a create that may have gone through: Buildkite is asked
	// (builds listed by meta-data) before anything is created again.
	Doubt bool   `json:"doubt,omitempty"`
	Error string `json:"error,omitempty"`
	// NextAttempt is when a failed key may be tried again.
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	// Cancel is why vmfleet itself cancels or abandoned this attempt's build
	// (ReasonObsolete: no active spec wants its image; ReasonUnwanted: a
	// create in doubt nobody wants any more), set before Buildkite is asked.
	// Such an attempt ends canceled without counting as a failure.
	Cancel string `json:"cancel,omitempty"`
	// Cancels counts the attempts of this key that ended canceled by vmfleet:
	// Attempt-Cancels are the failures that back off and block the key.
	Cancels int `json:"cancels,omitempty"`
	// CancelTries counts cancel calls that failed (network, 5xx); the next
	// may go at NextCancel, and none after max_attempts of them.
	CancelTries int       `json:"cancel_tries,omitempty"`
	NextCancel  time.Time `json:"next_cancel,omitzero"`
	// CheckAfter is when a requested record's create may be checked or retried.
	CheckAfter  time.Time `json:"check_after,omitzero"`
	RequestedAt time.Time `json:"requested_at,omitzero"`
	FinishedAt  time.Time `json:"finished_at,omitzero"`
	UpdatedAt   time.Time `json:"updated_at"`
	// Revision is the KV revision the record was read or written at; not stored.
	Revision uint64 `json:"-"`
}

// Failures is how many attempts of the key failed: those vmfleet cancelled
// itself (Cancels) do not count.
func (r *Record) Failures() int { return r.Attempt - r.Cancels }

func (r *Record) clone() *Record {
	c := *r
	return &c
}

// RecordKey is the build record key (and vmfleet-key meta-data) of image,
// optionally pinned to host: KV-key safe and unambiguous. Bytes a KV key
// cannot hold ('+', and '.' where it would make an empty token) are written
// =XX; '/' separates the host.
func RecordKey(image, host string) string {
	var b strings.Builder
	for i := 0; i < len(image); i++ {
		c := image[i]
		switch {
		case c == '.' && (i == 0 || i == len(image)-1 || image[i-1] == '.' || image[i+1] == '.'):
			fmt.Fprintf(&b, "=%02X", c)
		case c == '.' || c == '-' || c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'):
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "=%02X", c)
		}
	}
	if host != "" {
		b.WriteByte('/')
		b.WriteString(host)
	}
	return b.String()
}

// digest fingerprints what a build for want would be asked to do.
func digest(w Want) string {
	sum := sha256.Sum256([]byte(strings.Join([]string{w.Image, w.Release, w.Host, w.RegistryRef, w.Bun, w.Bootstrap}, "\x00")))
	return hex.EncodeToString(sum[:8])
}

// Store keeps build records. Create and Update fail with errConflict
// when another writer got there first, so two writers can never both win.
type Store interface {
	List(ctx context.Context) ([]*Record, error)
	Get(ctx context.Context, key string) (*Record, error) // nil, nil when absent
	Create(ctx context.Context, r *Record) (uint64, error)
	Update(ctx context.Context, r *Record, revision uint64) (uint64, error)
}

// kvStore is a Store on a JetStream KV bucket.
type kvStore struct{ kv jetstream.KeyValue }

// NewKVStore keeps records in kv, the vmfleet_builds bucket.
func NewKVStore(kv jetstream.KeyValue) Store { return kvStore{kv: kv} }

func (s kvStore) List(ctx context.Context) ([]*Record, error) {
	kl, err := s.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list build records: %w", err)
	}
	defer func() { _ = kl.Stop() }()
	var out []*Record
	for k := range kl.Keys() {
		r, err := s.Get(ctx, k)
		if err != nil {
			return nil, err
		}
		if r != nil {
			out = append(out, r)
		}
	}
	return out, nil
}

func (s kvStore) Get(ctx context.Context, key string) (*Record, error) {
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get build record %s: %w", key, err)
	}
	var r Record
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return nil, fmt.Errorf("build record %s: %w", key, err)
	}
	r.Revision = e.Revision()
	return &r, nil
}

func (s kvStore) Create(ctx context.Context, r *Record) (uint64, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return 0, err
	}
	rev, err := s.kv.Create(ctx, r.Key, b)
	return rev, kvErr("create", r.Key, err)
}

func (s kvStore) Update(ctx context.Context, r *Record, revision uint64) (uint64, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return 0, err
	}
	rev, err := s.kv.Update(ctx, r.Key, b, revision)
	return rev, kvErr("update", r.Key, err)
}

func kvErr(op, key string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		return fmt.Errorf("%s build record %s: %w", op, key, errConflict)
	}
	return fmt.Errorf("%s build record %s: %w", op, key, err)
}

// memStore is an in-memory Store for tests and benchmarks.
type memStore struct {
	mu   sync.Mutex
	rev  uint64
	recs map[string]*Record
}

// NewMemStore keeps records in memory (tests and benchmarks).
func NewMemStore() Store { return newMemStore() }

// MemStoreWith is a memory store holding recs (records created as given).
func MemStoreWith(recs ...Record) (Store, error) {
	s := newMemStore()
	for i := range recs {
		if _, err := s.Create(context.Background(), &recs[i]); err != nil {
			return nil, fmt.Errorf("record %s: %w", recs[i].Key, err)
		}
	}
	return s, nil
}

func newMemStore() *memStore { return &memStore{recs: map[string]*Record{}} }

func (s *memStore) List(context.Context) ([]*Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Record, 0, len(s.recs))
	for _, r := range s.recs {
		out = append(out, r.clone())
	}
	return out, nil
}

func (s *memStore) Get(_ context.Context, key string) (*Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.recs[key]; r != nil {
		return r.clone(), nil
	}
	return nil, nil
}

func (s *memStore) Create(_ context.Context, r *Record) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recs[r.Key] != nil {
		return 0, errConflict
	}
	return s.putLocked(r), nil
}

func (s *memStore) Update(_ context.Context, r *Record, revision uint64) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.recs[r.Key]; old == nil || old.Revision != revision {
		return 0, errConflict
	}
	return s.putLocked(r), nil
}

func (s *memStore) putLocked(r *Record) uint64 {
	s.rev++
	c := r.clone()
	c.Revision = s.rev
	s.recs[r.Key] = c
	return s.rev
}
