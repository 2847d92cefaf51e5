package web

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator"
	"github.com/vmfleet/vmfleet/orchestrator/api"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
)

// FuzzWebhook: any body, signed or not, gets a 2xx or 4xx from the webhook
// receiver — never a panic, never a 5xx — and a signed build event never
// takes a finished record back to live.
func FuzzWebhook(f *testing.F) {
	key := builds.RecordKey("bun-build-macos-14-1.2.16-bootstrap-3.6", "mac-01")
	for _, body := range []string{
		fmt.Sprintf(`{"event":"build.finished","build":{"number":7,"state":"passed","meta_data":{"vmfleet-key":%q,"vmfleet-attempt":"1"}}}`, key),
		fmt.Sprintf(`{"event":"build.running","build":{"number":7,"state":"running","meta_data":{"vmfleet-key":%q}}}`, key),
		`{"event":"build.finished","build":{"number":"seven"}}`, `{"event":"ping"}`, `[]`, `{`,
	} {
		f.Add([]byte(body), true, int64(0))
		f.Add([]byte(body), false, int64(-400))
	}
	secret := "whsec"
	rec := api.Record{Key: key, Image: "bun-build-macos-14-1.2.16-bootstrap-3.6", Release: "14", Host: "mac-01",
		State: events.BuildRequested, Attempt: 1, Try: 1}
	o := newTestServer(f, nil, orchestrator.Config{Spec: events.Spec{Images: testImages()}, WebhookSecret: secret},
		func() time.Time { return t0 }, rec)
	h := o.Handler()
	f.Fuzz(func(t *testing.T, body []byte, sign bool, skew int64) {
		before := record(o, key)
		req := httptest.NewRequest(http.MethodPost, "/webhooks/buildkite", bytes.NewReader(body))
		ts := strconv.FormatInt(t0.Unix()+skew, 10)
		sig := "00"
		if sign {
			mac := hmac.New(sha256.New, []byte(secret))
			mac.Write([]byte(ts + "."))
			mac.Write(body)
			sig = hex.EncodeToString(mac.Sum(nil))
		}
		req.Header.Set("X-Buildkite-Signature", "timestamp="+ts+",signature="+sig)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 || w.Code < 200 {
			t.Fatalf("Got(status) = %d for %q, want 2xx or 4xx", w.Code, body)
		}
		if !sign && w.Code == http.StatusOK {
			t.Fatalf("Got(status unsigned) = 200 for %q, want refused", body)
		}
		after := record(o, key)
		if !before.State.Live() && after.State.Live() {
			t.Fatalf("Got(record) %s → %s from %q, want a finished record to stay finished", before.State, after.State, body)
		}
	})
}
