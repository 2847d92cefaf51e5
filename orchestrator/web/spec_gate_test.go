package web_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/sim/world"
	"github.com/vmfleet/vmfleet/internal/testlog"
	"github.com/vmfleet/vmfleet/orchestrator"
	"github.com/vmfleet/vmfleet/orchestrator/api"
	"github.com/vmfleet/vmfleet/orchestrator/internal/orchtest"
)

// TestSpecHandlersGate runs the spec handlers over an orchestrator on a
// real (embedded) nats-server: two hosts ready for release 13. Removing it
// answers the preview to a dry run (200), is refused without confirm (409,
// the preview in the body) and applies with it (200, the spec in force).
// A promote goes through the same gate.
func TestSpecHandlersGate(t *testing.T) {
	t.Parallel()
	w, err := world.New(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	const token = "api-token"
	o, err := w.NewOrchestrator(orchestrator.Config{Spec: events.Spec{Images: orchtest.Images()}, Instance: "web",
		Tick: 20 * time.Millisecond, APIToken: token}, orchestrator.WithLogger(testlog.New(t, 0)))
	if err != nil {
		t.Fatal(err)
	}
	o.Start()
	t.Cleanup(func() { _ = o.Stop(10 * time.Second) })
	for _, host := range []string{"mac-01", "mac-02"} {
		// Release 13 ready, 14 missing.
		if err := w.Conn.Publish(w.Subjects.Health(host), orchtest.Encode(t, orchtest.Health(host, "b", 1, time.Now()))); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(o.Hosts()) < 2 || !o.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("the orchestrator did not see both hosts within 20s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	h := o.Web.Handler()
	post := func(path string, body any, out any) int {
		t.Helper()
		b, _ := json.Marshal(body)
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if out != nil {
			if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
				t.Errorf("%s: body %s: %v", path, rec.Body, err)
			}
		}
		return rec.Code
	}
	rev := o.Spec().Revision

	var p api.SpecPreview
	if got := post("/api/v1/spec", map[string]any{"releases": []string{"14"}, "dry_run": true}, &p); got != http.StatusOK ||
		!p.ConfirmNeeded || p.Total.NotReady != 2 || len(p.Removed) != 1 {
		t.Errorf("Got(dry run) = %d, %+v, want 200 and the preview: release 13 removed, 2 hosts not ready", got, p)
	}
	var r api.SpecRefusal
	if got := post("/api/v1/spec", map[string]any{"releases": []string{"14"}}, &r); got != http.StatusConflict ||
		!r.Preview.ConfirmNeeded || r.Error == "" {
		t.Errorf("Got(set without confirm) = %d, %+v, want 409 with the preview", got, r)
	}
	if got := o.Spec().Revision; got != rev {
		t.Errorf("Got(revision after a dry run and a refusal) = %d, want %d", got, rev)
	}
	var sp events.Spec
	if got := post("/api/v1/spec", map[string]any{"releases": []string{"14"}, "confirm": true}, &sp); got != http.StatusOK ||
		len(sp.Images.Releases) != 1 || sp.Revision == rev {
		t.Errorf("Got(set with confirm) = %d, %+v, want 200 and releases [14]", got, sp)
	}

	if got := post("/api/v1/spec/next", map[string]any{"releases": []string{"13", "14"}}, nil); got != http.StatusOK {
		t.Fatalf("Got(stage) = %d, want 200", got)
	}
	p = api.SpecPreview{}
	if got := post("/api/v1/spec/promote", map[string]any{"dry_run": true}, &p); got != http.StatusOK || p.Action != "promote" || p.ConfirmNeeded {
		t.Errorf("Got(promote dry run) = %d, %+v, want 200: adding release 13 back needs no confirmation", got, p)
	}
	if got := post("/api/v1/spec/promote", map[string]any{}, &sp); got != http.StatusOK || len(sp.Images.Releases) != 2 {
		t.Errorf("Got(promote) = %d, %+v, want 200 and releases [13 14]", got, sp)
	}
}
