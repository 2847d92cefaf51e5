package bus

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
)

// SpecHistory reads the history of the spec keys (events.SpecKey and
// events.NextSpecKey) of the spec bucket kv, in revision order, for
// events.Retained. A key never written has no entries; a delete or purge is
// an entry with Deleted set. A value that does not decode as a valid spec
// (events.DecodeSpec) is left out: agents ignore it and keep the spec they
// had, so it changed nothing.
func SpecHistory(ctx context.Context, kv jetstream.KeyValue) ([]events.SpecRevision, error) {
	var out []events.SpecRevision
	for _, key := range []string{events.SpecKey, events.NextSpecKey} {
		es, err := kv.History(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read history of %s/%s: %w", kv.Bucket(), key, err)
		}
		for _, e := range es {
			r := events.SpecRevision{Revision: e.Revision(), Key: key, At: e.Created().UTC()}
			if e.Operation() != jetstream.KeyValuePut {
				r.Deleted = true
			} else if r.Spec, err = events.DecodeSpec(e.Value()); err != nil {
				continue
			}
			r.Spec.Revision = e.Revision()
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b events.SpecRevision) int { return cmp.Compare(a.Revision, b.Revision) })
	return out, nil
}

// SpecHistoryCache keeps the last SpecHistory read and reads again only when
// the bucket changed since (its last sequence, one stream info request): the
// history changes only when the spec does. The zero value is ready; it is
// safe for concurrent use.
type SpecHistoryCache struct {
	mu   sync.Mutex
	seq  uint64
	read bool
	hist []events.SpecRevision
}

// Load returns the history of kv's spec keys, from the cache when the bucket
// did not change since the last read. On an error it returns the last
// history read (nil when none) with the error. The slice is shared: callers
// must not modify it.
func (c *SpecHistoryCache) Load(ctx context.Context, kv jetstream.KeyValue) ([]events.SpecRevision, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, err := kv.Status(ctx)
	if err != nil {
		return c.hist, fmt.Errorf("status of %s: %w", kv.Bucket(), err)
	}
	var seq uint64
	if bs, ok := st.(*jetstream.KeyValueBucketStatus); ok && bs.StreamInfo() != nil {
		seq = bs.StreamInfo().State.LastSeq
	}
	if c.read && seq != 0 && seq == c.seq {
		return c.hist, nil
	}
	hist, err := SpecHistory(ctx, kv)
	if err != nil {
		return c.hist, err
	}
	c.hist, c.seq, c.read = hist, seq, true
	return hist, nil
}

// Last returns the last history read, nil when none; the slice is shared.
func (c *SpecHistoryCache) Last() []events.SpecRevision {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hist
}
