package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/testlog"
	"github.com/vmfleet/vmfleet/orchestrator"
)

// TestOfflineRoutesAnswer: on an orchestrator without NATS (the offline
// mode these tests use), every documented operation answers with a status
// and, for an error, a JSON body that says why, whatever the body it gets;
// none panics. A write that needs NATS is a 503 naming it.
func TestOfflineRoutesAnswer(t *testing.T) {
	_, ops := readOpenAPI(t, openAPIDoc)
	bodies := []string{``, `{}`, `{"dry_run": true}`, `{"by": "alice", "reason": "r", "ttl": "1h"}`,
		`{"images": {"releases": ["13", "14"]}, "yes": true}`, `{"revision": 1, "yes": true}`}
	for _, leader := range []bool{true, false} {
		s := offlineServer(t, leader)
		s.o.TakeHealth("vmfleet.host.mac-01.health", encode(t, health("mac-01", "b", 1, t0)), t0)
		h := s.Handler()
		for _, op := range ops {
			for _, body := range bodies {
				if op.method == http.MethodGet && body != "" {
					continue
				}
				name := fmt.Sprintf("leader=%v %s %s %s", leader, op.method, op.path, body)
				req := httptest.NewRequest(op.method, samplePath(op.path), strings.NewReader(body))
				if op.path == "/api/v1/events" {
					// The event stream answers until its client leaves.
					ctx, cancel := context.WithCancel(req.Context())
					cancel()
					req = req.WithContext(ctx)
				}
				req.Header.Set("Authorization", "Bearer api-tok")
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				if p := serve(h, rec, req); p != nil {
					t.Errorf("Got(%s) = panic %v, want an answer", name, p)
					continue
				}
				if rec.Code >= 400 && op.path != "/metrics" && !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
					t.Errorf("Got(%s) = %d %q, want a JSON error", name, rec.Code, rec.Body.String())
				}
				if rec.Code >= 500 && (rec.Code != http.StatusServiceUnavailable || !(strings.Contains(rec.Body.String(), "no NATS") ||
					strings.Contains(rec.Body.String(), "not the leader") || op.path == "/readyz")) {
					t.Errorf("Got(%s) = %d %s, want 503 and the reason (no NATS, not the leader)", name, rec.Code, rec.Body.String())
				}
			}
		}
	}
}

// offlineServer is an offline orchestrator's server with an API token and
// a webhook token, the leader or not.
func offlineServer(t *testing.T, leader bool) *Server {
	t.Helper()
	o, err := orchestrator.New(nil, &fakeBK{}, orchestrator.Config{Spec: events.Spec{Images: testImages()},
		APIToken: "api-tok", WebhookToken: "wh"},
		orchestrator.WithClock(func() time.Time { return t0 }), orchestrator.WithLogger(testlog.New(t, slog.LevelDebug)),
		orchestrator.WithMemoryRecords(), orchestrator.WithLeader(func() bool { return leader }))
	if err != nil {
		t.Fatal(err)
	}
	if err := o.StartOffline(context.Background()); err != nil {
		t.Fatal(err)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// serve runs one request, returning what it panicked with, if anything.
func serve(h http.Handler, w http.ResponseWriter, r *http.Request) (p any) {
	defer func() { p = recover() }()
	h.ServeHTTP(w, r)
	return nil
}
