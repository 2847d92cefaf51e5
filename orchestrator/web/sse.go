package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

// Server-sent events (GET /api/v1/events). One hub per Server derives
// the dashboard's state every interval while anyone listens, diffs it against
// what it sent last, and broadcasts one compact delta to every client. A
// client first gets a snapshot. Each client has a bounded buffer; a client
// that falls that far behind is dropped (its EventSource reconnects and gets
// a fresh snapshot), so one slow reader never holds the others up or grows
// memory.

const (
	defaultSSEInterval  = 500 * time.Millisecond
	defaultSSEHeartbeat = 15 * time.Second
	defaultSSEBuffer    = 64
	sseWriteTimeout     = 10 * time.Second
	// sseFullEvery: every this many ticks every host is encoded again, so a
	// change no fingerprint covers still reaches the page.
	sseFullEvery = 20
)

// sseDelta is a delta message: what changed since the last message. Hosts
// and builds are whole, replacing the client's copy; fleet is set only when
// it changed.
type sseDelta struct {
	Now    time.Time         `json:"now"`
	Hosts  []json.RawMessage `json:"hosts,omitempty"`
	Builds []api.Record      `json:"builds,omitempty"`
	Fleet  json.RawMessage   `json:"fleet,omitempty"`
}

type sseClient struct {
	ch   chan []byte
	gone chan struct{} // closed when the hub dropped the client
}

// hostEntry is a host as last sent: its report (Health and LastSeen change
// together with it), its staleness and cells, and its encoding.
type hostEntry struct {
	health   *events.HostHealth
	lastSeen time.Time
	stale    bool
	cells    []api.Cell
	json     json.RawMessage
}

type buildEntry struct {
	rev     uint64
	updated time.Time
	state   events.BuildState
	attempt int
}

// dashState is what the hub sent last.
type dashState struct {
	now    time.Time
	order  []string
	hosts  map[string]hostEntry
	builds map[string]buildEntry
	recs   []api.Record // not passed, for snapshots
	fleet  json.RawMessage
}

type sseMetrics struct {
	clients prometheus.Gauge
	dropped prometheus.Counter
	sent    *prometheus.CounterVec
}

type hub struct {
	s         *Server
	log       *slog.Logger
	interval  time.Duration
	heartbeat time.Duration
	buffer    int
	metrics   sseMetrics
	wake      chan struct{}

	mu      sync.Mutex
	clients map[*sseClient]struct{}
	id      uint64
	ticks   int
	cur     *dashState
}

func newHub(s *Server, reg prometheus.Registerer) (*hub, error) {
	const ns, sub = "vmfleet", "orchestrator"
	h := &hub{s: s, log: s.o.Logger(), interval: defaultSSEInterval, heartbeat: defaultSSEHeartbeat, buffer: defaultSSEBuffer,
		wake: make(chan struct{}, 1), clients: map[*sseClient]struct{}{}}
	h.metrics = sseMetrics{
		clients: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "sse_clients", Help: "Clients connected to /api/v1/events."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "sse_dropped_total", Help: "/api/v1/events clients dropped for falling behind (their buffer was full)."}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "sse_messages_total", Help: "/api/v1/events messages sent, by event (snapshot, delta)."}, []string{"event"}),
	}
	for _, c := range []prometheus.Collector{h.metrics.clients, h.metrics.dropped, h.metrics.sent} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	h.metrics.sent.WithLabelValues(api.SSESnapshot) // both events exported from the start, at zero
	h.metrics.sent.WithLabelValues(api.SSEDelta)
	return h, nil
}

// run derives and broadcasts deltas until ctx ends, then drops every client.
func (h *hub) run(ctx context.Context) error {
	t := time.NewTicker(h.interval)
	defer t.Stop()
	defer h.closeAll()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-h.wake:
		}
		h.tick()
	}
}

func (h *hub) poke() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// tick computes the state and broadcasts what changed, if anyone listens.
func (h *hub) tick() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.clients) == 0 {
		return
	}
	h.ticks++
	next, d := h.compute(h.cur, h.ticks%sseFullEvery == 0)
	h.cur = next
	if len(d.Hosts) == 0 && len(d.Builds) == 0 && d.Fleet == nil {
		return
	}
	b, err := json.Marshal(d)
	if err != nil {
		h.log.Error("cannot encode dashboard delta", "err", err)
		return
	}
	h.broadcastLocked(api.SSEDelta, b)
}

// compute derives the state and the delta from prev (nil: everything is new).
func (h *hub) compute(prev *dashState, full bool) (*dashState, sseDelta) {
	s := h.s
	now := s.o.Now()
	ix := s.dashIndex()
	next := &dashState{now: now, hosts: map[string]hostEntry{}, builds: make(map[string]buildEntry, len(ix.records))}
	d := sseDelta{Now: now.UTC()}
	for _, hv := range s.o.HostReports(now) {
		next.order = append(next.order, hv.Host)
		stale := hv.State == api.HostStale
		cs := cells(hv.Host, hv.Health, stale, now, ix)
		if prev != nil && !full {
			if e, ok := prev.hosts[hv.Host]; ok && e.health == hv.Health && e.lastSeen.Equal(hv.LastSeen) && e.stale == stale && cellsEqual(e.cells, cs) {
				next.hosts[hv.Host] = e
				continue
			}
		}
		e := hostEntry{health: hv.Health, lastSeen: hv.LastSeen, stale: stale, cells: cs}
		b, err := json.Marshal(dashHost(hv, now, ix))
		if err != nil {
			continue
		}
		e.json = b
		next.hosts[hv.Host] = e
		if prev == nil || !bytes.Equal(prev.hosts[hv.Host].json, b) {
			d.Hosts = append(d.Hosts, b)
		}
	}
	for _, r := range ix.records {
		e := buildEntry{rev: r.Revision, updated: r.UpdatedAt, state: r.State, attempt: r.Attempt}
		next.builds[r.Key] = e
		if r.State != events.BuildPassed {
			next.recs = append(next.recs, r)
		}
		if prev == nil || prev.builds[r.Key] != e {
			d.Builds = append(d.Builds, r)
		}
	}
	if b, err := json.Marshal(s.dashFleet(now)); err == nil {
		next.fleet = b
		if prev == nil || !bytes.Equal(prev.fleet, b) {
			d.Fleet = b
		}
	}
	return next, d
}

func cellsEqual(a, b []api.Cell) bool { return slices.EqualFunc(a, b, cellEqual) }

// snapshotLocked encodes cur as a snapshot message.
func (h *hub) snapshotLocked() []byte {
	c := h.cur
	var buf bytes.Buffer
	now, _ := json.Marshal(c.now.UTC())
	buf.WriteString(`{"now":`)
	buf.Write(now)
	buf.WriteString(`,"hosts":[`)
	for i, host := range c.order {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(c.hosts[host].json)
	}
	recs := c.recs
	if recs == nil {
		recs = []api.Record{}
	}
	b, _ := json.Marshal(recs)
	buf.WriteString(`],"builds":`)
	buf.Write(b)
	buf.WriteString(`,"fleet":`)
	buf.Write(c.fleet)
	buf.WriteByte('}')
	return buf.Bytes()
}

// subscribe adds a client whose first message is a snapshot.
func (h *hub) subscribe() *sseClient {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cur == nil || len(h.clients) == 0 {
		// Nobody was listening: what the hub holds may be old.
		h.cur, _ = h.compute(nil, true)
	}
	c := &sseClient{ch: make(chan []byte, h.buffer), gone: make(chan struct{})}
	c.ch <- h.frameLocked(api.SSESnapshot, h.snapshotLocked())
	h.metrics.sent.WithLabelValues(api.SSESnapshot).Inc()
	h.clients[c] = struct{}{}
	h.metrics.clients.Set(float64(len(h.clients)))
	return c
}

func (h *hub) unsubscribe(c *sseClient) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.clients[c]; ok {
		delete(h.clients, c)
		close(c.gone)
		h.metrics.clients.Set(float64(len(h.clients)))
	}
}

func (h *hub) frameLocked(event string, data []byte) []byte {
	h.id++
	return fmt.Appendf(nil, "id: %d\nevent: %s\ndata: %s\n\n", h.id, event, data)
}

// broadcastLocked queues one message for every client, dropping those whose
// buffer is full.
func (h *hub) broadcastLocked(event string, data []byte) {
	msg := h.frameLocked(event, data)
	for c := range h.clients {
		select {
		case c.ch <- msg:
			h.metrics.sent.WithLabelValues(event).Inc()
		default:
			delete(h.clients, c)
			close(c.gone)
			h.metrics.dropped.Inc()
			h.log.Warn("events client dropped: it fell behind", "buffer", h.buffer)
		}
	}
	h.metrics.clients.Set(float64(len(h.clients)))
}

func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		delete(h.clients, c)
		close(c.gone)
	}
	h.metrics.clients.Set(0)
}
