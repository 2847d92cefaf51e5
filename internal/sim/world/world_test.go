package world

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator"
)

// get answers GET url's status code.
func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// A world has its stream and buckets, a front that serves what it is given,
// the fake's webhooks arriving there, and an orchestrator that runs in it
// and stops; Close removes the store it made.
func TestWorld(t *testing.T) {
	w, err := New(t.Context(), WithToken("tok"), WithWebhooks("secret"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.JetStream.Stream(t.Context(), events.StreamName); err != nil {
		t.Errorf("stream %s: %v", events.StreamName, err)
	}
	if _, err := w.Buckets.Spec.Put(t.Context(), events.SpecKey, []byte("{}")); err != nil {
		t.Errorf("put in the spec bucket: %v", err)
	}
	if code := get(t, w.URL+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("Got(front status with nothing served) = %d, want 503", code)
	}

	hooks := make(chan string, 10)
	w.Serve(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		hooks <- r.URL.Path + " " + r.Header.Get("X-Buildkite-Event")
	}))
	req, _ := http.NewRequest(http.MethodPost, w.BuildkiteAPI+"/v2/organizations/"+w.Org+"/pipelines/"+w.Pipeline+"/builds",
		strings.NewReader(`{"commit":"HEAD","branch":"main"}`))
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("Got(create build) = %d, want 201", resp.StatusCode)
	}
	select {
	case h := <-hooks:
		if h != "/webhooks/buildkite build.scheduled" {
			t.Errorf("Got(webhook) = %q, want /webhooks/buildkite build.scheduled", h)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook at the front")
	}

	o, err := w.NewOrchestrator(orchestrator.Config{Spec: events.Spec{Images: events.DefaultImageSpec()}, Tick: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	w.Serve(o.Web.Handler())
	o.Start()
	deadline := time.Now().Add(10 * time.Second)
	for !o.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("orchestrator not ready")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if code := get(t, w.URL+"/readyz"); code != http.StatusOK {
		t.Errorf("Got(front status serving the orchestrator) = %d, want 200", code)
	}
	if err := o.Stop(10 * time.Second); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if !o.Conn.IsClosed() {
		t.Error("the orchestrator's connection is open after Stop")
	}

	w.Close()
	if _, err := os.Stat(w.tmpDir); !os.IsNotExist(err) {
		t.Errorf("Got(stat of the world's store after Close) = %v, want not exist", err)
	}
}

// Without NATS a world is the fake Buildkite and the front.
func TestWorldWithoutNATS(t *testing.T) {
	w, err := New(t.Context(), WithoutNATS())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if w.NATS != nil || w.Conn != nil {
		t.Error("a world without NATS has a server or a connection")
	}
	if _, err := w.Connect("x"); err == nil {
		t.Error("Connect in a world without NATS did not fail")
	}
	if w.Buildkite == nil || w.URL == "" {
		t.Errorf("Got(fake Buildkite, front URL) = %v, %q, want both", w.Buildkite, w.URL)
	}
}
