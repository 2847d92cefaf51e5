package fleetsim

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
)

// specHub is one watch of the spec bucket shared by every simulated agent
// (agentd.WithSpecWatch), used when agents share connections: 10,000
// agents each with a watch of their own are 10,000 consumers of one stream,
// each with its heartbeats, and a spec change is 10,000 deliveries at once,
// more than the one NATS server of a simulation on two cores keeps up with.
// Each agent gets the keys' latest entries, then every change, as from a
// watch of its own; it still reads the keys every few heartbeats and
// watches again when its watch fell behind.
type specHub struct {
	mu     sync.Mutex
	live   bool                               // the hub's watch runs
	latest map[string]jetstream.KeyValueEntry // the last entry of each key
	subs   map[*hubWatch]struct{}
}

// errHubDown: the hub's own watch is not running (yet).
var errHubDown = errors.New("the shared spec watch is not running")

func newSpecHub() *specHub {
	return &specHub{latest: map[string]jetstream.KeyValueEntry{}, subs: map[*hubWatch]struct{}{}}
}

// run keeps the hub's watch of both spec keys until ctx ends, watching
// again (after retry) when it ends.
func (h *specHub) run(ctx context.Context, kv jetstream.KeyValue, retry time.Duration) {
	for ctx.Err() == nil {
		if w, err := kv.WatchFiltered(ctx, []string{events.SpecKey, events.NextSpecKey}); err == nil {
			h.pump(ctx, w)
			_ = w.Stop()
		}
		h.down()
		t := time.NewTimer(retry)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

// pump passes the watch's entries on until it or ctx ends.
func (h *specHub) pump(ctx context.Context, w jetstream.KeyWatcher) {
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			h.mu.Lock()
			if e == nil { // the initial values are in
				h.live = true
			} else {
				h.latest[e.Key()] = e
				for s := range h.subs {
					s.send(e)
				}
			}
			h.mu.Unlock()
		}
	}
}

// down ends every agent's watch (each watches again) and forgets the
// entries: the next watch starts with the current ones.
func (h *specHub) down() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.live = false
	clear(h.latest)
	for s := range h.subs {
		s.close()
	}
	clear(h.subs)
}

// watch is an agent's watch of keys: agentd.SpecWatch.
func (h *specHub) watch(_ context.Context, _ jetstream.KeyValue, keys []string) (jetstream.KeyWatcher, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.live {
		return nil, errHubDown
	}
	s := &hubWatch{h: h, keys: slices.Clone(keys), ch: make(chan jetstream.KeyValueEntry, 16)}
	for _, k := range s.keys {
		if e := h.latest[k]; e != nil {
			s.send(e)
		}
	}
	s.send(nil) // the initial values are in
	h.subs[s] = struct{}{}
	return s, nil
}

// hubWatch is one agent's watch on the hub.
type hubWatch struct {
	h      *specHub
	keys   []string
	ch     chan jetstream.KeyValueEntry
	closed bool
}

// send passes e on if the agent watches its key (nil: always). A watch
// whose agent does not keep up is ended: its agent watches again and
// starts from the latest entries. Called with h.mu held.
func (s *hubWatch) send(e jetstream.KeyValueEntry) {
	if s.closed || (e != nil && !slices.Contains(s.keys, e.Key())) {
		return
	}
	select {
	case s.ch <- e:
	default:
		delete(s.h.subs, s)
		s.close()
	}
}

// close ends the watch's updates. Called with h.mu held.
func (s *hubWatch) close() {
	if !s.closed {
		s.closed = true
		close(s.ch)
	}
}

func (s *hubWatch) Updates() <-chan jetstream.KeyValueEntry { return s.ch }

func (s *hubWatch) Stop() error {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	delete(s.h.subs, s)
	s.close()
	return nil
}
