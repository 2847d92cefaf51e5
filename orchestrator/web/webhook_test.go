package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/sim/buildkitefake"
	"github.com/vmfleet/vmfleet/orchestrator"
)

func TestWebhookAuth(t *testing.T) {
	body, _ := json.Marshal(map[string]any{"event": "build.running", "build": map[string]any{
		"number": 1, "state": "running", "meta_data": map[string]string{events.MetaKey: "k"}}})
	sig := func(secret string, at time.Time) string { return buildkitefake.SignatureHeader(secret, at, body) }
	replayed := sig("s3cret", t0.Add(-time.Minute))
	tests := []struct {
		name          string
		secret, token string
		headers       []map[string]string // requests in order; the last one is checked
		body          []byte
		want          int
	}{
		{name: "good signature", secret: "s3cret", headers: []map[string]string{{"X-Buildkite-Signature": sig("s3cret", t0)}}, want: 200},
		{name: "signature by another secret", secret: "s3cret", headers: []map[string]string{{"X-Buildkite-Signature": sig("other", t0)}}, want: 401},
		{name: "body changed", secret: "s3cret", headers: []map[string]string{{"X-Buildkite-Signature": sig("s3cret", t0)}}, body: append(body, ' '), want: 401},
		{name: "stale timestamp", secret: "s3cret", headers: []map[string]string{{"X-Buildkite-Signature": sig("s3cret", t0.Add(-6*time.Minute))}}, want: 401},
		{name: "future timestamp", secret: "s3cret", headers: []map[string]string{{"X-Buildkite-Signature": sig("s3cret", t0.Add(6*time.Minute))}}, want: 401},
		{name: "replay", secret: "s3cret", headers: []map[string]string{{"X-Buildkite-Signature": replayed}, {"X-Buildkite-Signature": replayed}}, want: 401},
		{name: "garbage signature", secret: "s3cret", headers: []map[string]string{{"X-Buildkite-Signature": "timestamp=x,signature=zz"}}, want: 401},
		{name: "no credentials", secret: "s3cret", headers: []map[string]string{{}}, want: 401},
		{name: "token", token: "tok", headers: []map[string]string{{"X-Buildkite-Token": "tok"}}, want: 200},
		{name: "wrong token", token: "tok", headers: []map[string]string{{"X-Buildkite-Token": "nope"}}, want: 401},
		{name: "token not configured", secret: "s3cret", headers: []map[string]string{{"X-Buildkite-Token": "tok"}}, want: 401},
		{name: "bad signature with a good token", secret: "s3cret", token: "tok",
			headers: []map[string]string{{"X-Buildkite-Signature": sig("other", t0), "X-Buildkite-Token": "tok"}}, want: 401},
		{name: "webhooks not configured", headers: []map[string]string{{"X-Buildkite-Token": "tok"}}, want: 404},
		{name: "body too large", token: "tok", headers: []map[string]string{{"X-Buildkite-Token": "tok"}},
			body: bytes.Repeat([]byte("x"), webhookMaxBody+1), want: 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newTestServer(t, &fakeBK{}, orchestrator.Config{WebhookSecret: tt.secret, WebhookToken: tt.token}, func() time.Time { return t0 })
			h := o.Handler()
			b := body
			if tt.body != nil {
				b = tt.body
			}
			var got int
			for _, hdr := range tt.headers {
				req := httptest.NewRequest(http.MethodPost, "/webhooks/buildkite", bytes.NewReader(b))
				for k, v := range hdr {
					req.Header.Set(k, v)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				got = rec.Code
			}
			if got != tt.want {
				t.Errorf("Got(status) = %d, want %d", got, tt.want)
			}
		})
	}
}
