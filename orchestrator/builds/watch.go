package builds

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/internal/bus"
)

// Watches reports whether the records are in KV, so Watch has a bucket to
// follow.
func (m *Manager) Watches() bool {
	_, ok := m.store.(kvStore)
	return ok
}

// Watch keeps the record cache current with writes by other orchestrators
// (a follower's read API, a new leader's first decisions) until ctx ends.
// Records this orchestrator wrote come back with a revision it already has
// and change nothing. It returns at once when the records are not in KV.
func (m *Manager) Watch(ctx context.Context) error {
	s, ok := m.store.(kvStore)
	if !ok {
		return nil
	}
	w, err := s.kv.WatchAll(ctx, jetstream.UpdatesOnly())
	if err != nil {
		return fmt.Errorf("watch build records: %w", err)
	}
	bus.Follow(ctx, w, m.apply)
	return nil
}

// apply caches one KV entry of the builds bucket.
func (m *Manager) apply(e jetstream.KeyValueEntry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		if old := m.recs[e.Key()]; old != nil && old.Revision < e.Revision() {
			m.setLocked(&Record{Key: e.Key(), Revision: e.Revision()})
			delete(m.recs, e.Key())
		}
		return
	}
	var r Record
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		m.log.Warn("ignoring unreadable build record", "build", e.Key(), "err", err)
		return
	}
	r.Revision = e.Revision()
	m.setLocked(&r)
}
