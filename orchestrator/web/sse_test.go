package web

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

// sseEvent is one server-sent event as a client parses it.
type sseEvent struct {
	name, data, comment string
}

// sseReader reads a text/event-stream.
type sseReader struct {
	r *bufio.Reader
}

func (s *sseReader) next(t *testing.T) sseEvent {
	t.Helper()
	var e sseEvent
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the event stream: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "":
			if e != (sseEvent{}) {
				return e
			}
		case strings.HasPrefix(line, ":"):
			e.comment = strings.TrimSpace(line[1:])
		case strings.HasPrefix(line, "event: "):
			e.name = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			e.data = line[len("data: "):]
		}
	}
}

// nextEvent skips comments and retry lines.
func (s *sseReader) nextEvent(t *testing.T) sseEvent {
	t.Helper()
	for {
		if e := s.next(t); e.name != "" {
			return e
		}
	}
}

// streamFixture is an orchestrator without NATS whose hub runs, behind an
// HTTP server.
type streamFixture struct {
	o   *Server
	srv *httptest.Server
	now atomic.Pointer[time.Time]
}

func newStreamFixture(t *testing.T, tune func(h *hub)) *streamFixture {
	t.Helper()
	f := &streamFixture{}
	start := t0
	f.now.Store(&start)
	f.o = newTestServer(t, nil, orchestrator.Config{}, func() time.Time { return *f.now.Load() })
	f.o.hub.interval = 5 * time.Millisecond
	if tune != nil {
		tune(f.o.hub)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = f.o.hub.run(ctx) }()
	f.srv = httptest.NewServer(f.o.Handler())
	t.Cleanup(func() { cancel(); <-done; f.srv.Close() })
	return f
}

func (f *streamFixture) ingest(t *testing.T, h events.HostHealth) {
	t.Helper()
	if !f.o.o.TakeHealth("vmfleet.host."+h.Host+".health", encode(t, h), h.CheckedAt) {
		t.Fatalf("health of %s seq %d was not taken", h.Host, h.Seq)
	}
}

func (f *streamFixture) connect(t *testing.T, ctx context.Context) *sseReader {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.srv.URL+"/api/v1/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Got(Content-Type) = %q, want text/event-stream", ct)
	}
	return &sseReader{r: bufio.NewReader(resp.Body)}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestEventsSnapshotThenDeltas(t *testing.T) {
	f := newStreamFixture(t, nil)
	f.ingest(t, health("mac-01", "b", 1, t0))
	f.ingest(t, health("mac-02", "b", 1, t0))
	s := f.connect(t, t.Context())

	e := s.nextEvent(t)
	var snap api.DashboardView
	if err := json.Unmarshal([]byte(e.data), &snap); e.name != api.SSESnapshot || err != nil {
		t.Fatalf("Got(first event) = %q (%v), want a snapshot", e.name, err)
	}
	if len(snap.Hosts) != 2 || snap.Hosts[0].Host != "mac-01" || snap.Hosts[0].Cells[1].State != api.CellMissing {
		t.Fatalf("Got(snapshot hosts) = %+v, want mac-01 and mac-02 with 14 missing", snap.Hosts)
	}

	// mac-02 gets its image: one delta, with mac-02 only.
	h := health("mac-02", "b", 2, t0.Add(time.Second))
	h.Releases[1].Ready, h.Releases[1].Reason = true, events.ReasonReady
	f.ingest(t, h)
	e = s.nextEvent(t)
	var d struct {
		Hosts  []api.DashboardHost `json:"hosts"`
		Fleet  json.RawMessage     `json:"fleet"`
		Builds []api.Record        `json:"builds"`
	}
	if err := json.Unmarshal([]byte(e.data), &d); e.name != api.SSEDelta || err != nil {
		t.Fatalf("Got(event) = %q %s (%v), want a delta", e.name, e.data, err)
	}
	if len(d.Hosts) != 1 || d.Hosts[0].Host != "mac-02" || d.Hosts[0].Cells[1].State != api.CellReady {
		t.Errorf("Got(delta hosts) = %+v, want only mac-02, now ready on 14", d.Hosts)
	}
	if len(d.Builds) != 0 {
		t.Errorf("Got(delta builds) = %+v, want none (no build changed)", d.Builds)
	}

	// Time passes: both hosts go stale without a message from them.
	later := t0.Add(10 * time.Minute)
	f.now.Store(&later)
	stale := map[string]bool{}
	for len(stale) < 2 {
		e = s.nextEvent(t)
		_ = json.Unmarshal([]byte(e.data), &d)
		for _, h := range d.Hosts {
			if h.State == api.HostStale && h.Cells[0].State == api.CellStale {
				stale[h.Host] = true
			}
		}
	}
}

func TestEventsHeartbeatAndDisconnect(t *testing.T) {
	f := newStreamFixture(t, func(h *hub) { h.heartbeat = 10 * time.Millisecond })
	ctx, cancel := context.WithCancel(t.Context())
	s := f.connect(t, ctx)
	if e := s.nextEvent(t); e.name != api.SSESnapshot {
		t.Fatalf("Got(first event) = %q, want snapshot", e.name)
	}
	for e := s.next(t); e.comment != "heartbeat"; e = s.next(t) {
	}
	if got := testutil.ToFloat64(f.o.hub.metrics.clients); got != 1 {
		t.Errorf("Got(sse_clients) = %v, want 1", got)
	}
	cancel()
	waitUntil(t, "the client to be gone", func() bool { return testutil.ToFloat64(f.o.hub.metrics.clients) == 0 })
}

func TestEventsSlowClientIsDropped(t *testing.T) {
	o := newTestServer(t, nil, orchestrator.Config{}, func() time.Time { return t0 })
	o.hub.buffer = 3
	slow := o.hub.subscribe() // never reads
	fast := o.hub.subscribe()
	got := 0
	for seq := uint64(1); seq <= 10; seq++ {
		h := health("mac-01", "b", seq, t0)
		h.Releases[1].Detail = strings.Repeat("x", int(seq))
		if !o.o.TakeHealth("vmfleet.host.mac-01.health", encode(t, h), t0) {
			t.Fatal("health not taken")
		}
		o.hub.tick()
		for len(fast.ch) > 0 {
			<-fast.ch
			got++
		}
	}
	select {
	case <-slow.gone:
	default:
		t.Fatal("Got(slow client) still subscribed, want it dropped once its buffer was full")
	}
	select {
	case <-fast.gone:
		t.Fatal("Got(fast client) dropped, want it kept")
	default:
	}
	if got != 11 { // the snapshot and one delta per change
		t.Errorf("Got(messages to the fast client) = %d, want 11", got)
	}
	if d := testutil.ToFloat64(o.hub.metrics.dropped); d != 1 {
		t.Errorf("Got(sse_dropped_total) = %v, want 1", d)
	}
	o.hub.unsubscribe(slow) // already gone: no double close
	o.hub.unsubscribe(fast)
}

func TestEventsStopWithTheOrchestrator(t *testing.T) {
	o := newTestServer(t, nil, orchestrator.Config{}, func() time.Time { return t0 })
	srv := httptest.NewServer(o.Handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = o.hub.run(ctx) }()
	resp, err := http.Get(srv.URL + "/api/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	s := &sseReader{r: bufio.NewReader(resp.Body)}
	if e := s.nextEvent(t); e.name != api.SSESnapshot {
		t.Fatalf("Got(first event) = %q, want snapshot", e.name)
	}
	cancel()
	<-done
	ended := make(chan struct{})
	go func() { defer close(ended); _, _ = io.Copy(io.Discard, s.r) }()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("Got(stream) still open 10 s after the orchestrator stopped, want it ended")
	}
}

// A prune outcome an agent publishes reaches the dashboard in the next delta,
// from the orchestrator's own outcome log.
func TestEventsCarryPruneOutcomes(t *testing.T) {
	f := newStreamFixture(t, nil)
	f.ingest(t, health("mac-01", "b", 1, t0))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second) // ends the read if the prune never shows
	defer cancel()
	s := f.connect(t, ctx)
	if e := s.nextEvent(t); e.name != api.SSESnapshot {
		t.Fatalf("Got(first event) = %q, want a snapshot", e.name)
	}

	out := events.PruneOutcome{Host: "mac-01", VM: "bun-build-macos-14-1.2.16-bootstrap-3.6",
		Result: events.PruneDeleted, Reason: "bootstrap_outdated", At: t0}
	data, err := events.Encode(events.TypePrune, "/vmfleet/agent/mac-01", "", "", t0, out)
	if err != nil {
		t.Fatal(err)
	}
	subj, _ := events.NewSubjects("")
	f.o.o.TakePrune(subj.Prune(out.Host, out.Result), data)

	for {
		e := s.nextEvent(t)
		var d struct {
			Fleet *struct {
				Prunes []events.PruneOutcome `json:"prunes"`
			} `json:"fleet"`
		}
		if err := json.Unmarshal([]byte(e.data), &d); err != nil {
			t.Fatalf("Got(event %s) = %v, want JSON", e.name, err)
		}
		if d.Fleet == nil {
			continue // a delta without the fleet header
		}
		if diff := cmp.Diff([]events.PruneOutcome{out}, d.Fleet.Prunes); diff != "" {
			t.Fatalf("Got(delta prunes) diff (-want +got):\n%s", diff)
		}
		return
	}
}
