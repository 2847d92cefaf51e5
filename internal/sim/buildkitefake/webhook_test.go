package buildkitefake

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/buildkite/go-buildkite/v3/buildkite"
	"github.com/google/go-cmp/cmp"
)

const secret = "s3cret"

type received struct {
	Event  string
	Number int
	State  string
	Token  string
	Valid  bool
}

// receiver is a webhook endpoint that verifies signatures the way a consumer must.
type receiver struct {
	mu  sync.Mutex
	got []received
	now func() time.Time
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	valid := verify(r.Header.Get("X-Buildkite-Signature"), body, rc.now())
	// The real client's validator must agree.
	r.Body = io.NopCloser(bytes.NewReader(body))
	if _, err := buildkite.ValidatePayload(r, []byte(secret)); err != nil {
		valid = false
	}
	ev, err := buildkite.ParseWebHook(buildkite.WebHookType(r), body)
	rec := received{Event: r.Header.Get("X-Buildkite-Event"), Token: r.Header.Get("X-Buildkite-Token"), Valid: valid && err == nil}
	if err == nil {
		var b *buildkite.Build
		switch e := ev.(type) {
		case *buildkite.BuildScheduledEvent:
			b = e.Build
		case *buildkite.BuildRunningEvent:
			b = e.Build
		case *buildkite.BuildFinishedEvent:
			b = e.Build
		}
		if b != nil {
			rec.Number, rec.State = *b.Number, *b.State
		}
	}
	rc.mu.Lock()
	rc.got = append(rc.got, rec)
	rc.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// verify checks "timestamp=<unix>,signature=<hex>" with our own HMAC and a 5-minute window.
func verify(header string, body []byte, now time.Time) bool {
	ts, sig, ok := strings.Cut(header, ",")
	ts, ok1 := strings.CutPrefix(ts, "timestamp=")
	sig, ok2 := strings.CutPrefix(sig, "signature=")
	unix, err := strconv.ParseInt(ts, 10, 64)
	if !ok || !ok1 || !ok2 || err != nil || now.Sub(time.Unix(unix, 0)).Abs() > 5*time.Minute {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := hex.EncodeToString(mac.Sum(nil))
	return hmac.Equal([]byte(want), []byte(sig))
}

func (rc *receiver) events() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

func flush(t *testing.T, s *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := s.FlushWebhooks(ctx); err != nil {
		t.Fatalf("FlushWebhooks() = %v", err)
	}
}

func TestWebhooksSignedAndOrdered(t *testing.T) {
	t.Parallel()
	clock := newClock()
	rc := &receiver{now: clock.Now}
	hook := httptest.NewServer(rc)
	t.Cleanup(hook.Close)
	s := newFake(t, WithClock(clock.Now), WithWebhook(hook.URL, secret), WithWebhookToken("wtok"))
	c := newClient(t, s, testToken)

	create(t, c, "k1", "main")
	s.Step()
	s.Step()
	flush(t, s)
	want := []received{
		{Event: "build.scheduled", Number: 1, State: "scheduled", Token: "wtok", Valid: true},
		{Event: "build.running", Number: 1, State: "running", Token: "wtok", Valid: true},
		{Event: "build.finished", Number: 1, State: "passed", Token: "wtok", Valid: true},
	}
	if diff := cmp.Diff(want, rc.events()); diff != "" {
		t.Errorf("Got(webhooks) mismatch (-want +got):\n%s", diff)
	}

	// Drop the next one: build #2's scheduled webhook never arrives.
	s.DropWebhooks(1)
	create(t, c, "k2", "main")
	if _, err := c.Builds.Cancel(org, pipe, "2"); err != nil {
		t.Fatalf("Cancel(2) = %v", err)
	}
	flush(t, s)
	got := rc.events()[3:]
	if diff := cmp.Diff([]received{{Event: "build.finished", Number: 2, State: "canceled", Token: "wtok", Valid: true}}, got); diff != "" {
		t.Errorf("Got(webhooks after drop) mismatch (-want +got):\n%s", diff)
	}
	d := s.Deliveries()
	if len(d) != 5 || !d[3].Dropped || d[4].Status != http.StatusNoContent {
		t.Errorf("Got(Deliveries) = %+v, want 5 with #4 dropped and #5 answered 204", d)
	}
}

func TestSignatureHeader(t *testing.T) {
	t.Parallel()
	body := []byte(`{"event":"ping"}`)
	h := SignatureHeader(secret, t0, body)
	if !verify(h, body, t0) {
		t.Errorf("Got(verify(%q)) = false, want true", h)
	}
	if verify(h, []byte(`{"event":"pong"}`), t0) {
		t.Errorf("Got(verify(tampered body)) = true, want false")
	}
}

func TestWebhookSlowReceiverDoesNotBlockAPI(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(hook.Close)
	t.Cleanup(func() { close(release) })
	s := newFake(t, WithWebhook(hook.URL, secret), WithWebhookTimeout(50*time.Millisecond))
	c := newClient(t, s, testToken)

	start := time.Now()
	create(t, c, "k1", "main")
	create(t, c, "k2", "main")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Got(create time with a hung receiver) = %v, want well under the webhook timeouts", d)
	}
	flush(t, s)
	for i, d := range s.Deliveries() {
		if d.Err == "" || d.Status != 0 {
			t.Errorf("Got(Deliveries[%d]) = %+v, want a timeout error", i, d)
		}
	}
}
