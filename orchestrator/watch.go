package orchestrator

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// watchBuilds keeps the build record cache current with writes by other
// orchestrators (a follower's read API, a new leader's first decisions).
// Records this orchestrator wrote come back with a revision it already has
// and change nothing.
func (o *Orchestrator) watchBuilds(ctx context.Context, kv jetstream.KeyValue) error {
	w, err := kv.WatchAll(ctx, jetstream.UpdatesOnly())
	if err != nil {
		return fmt.Errorf("watch build records: %w", err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return nil
			}
			if e != nil {
				o.builds.apply(e)
			}
		}
	}
}

// apply caches one KV entry of the builds bucket.
func (m *buildManager) apply(e jetstream.KeyValueEntry) {
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
