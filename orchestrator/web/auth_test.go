package web

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/sim/buildkitefake"
	"github.com/vmfleet/vmfleet/orchestrator"
)

func TestGuardTokens(t *testing.T) {
	t.Parallel()
	const write, read = "write-token", "read-token"
	tests := []struct {
		name        string
		cfg         orchestrator.Config
		method, url string
		token       string
		cookie      string
		want        int
	}{
		{name: "retry without a configured token", cfg: orchestrator.Config{}, method: "POST", url: "/api/v1/builds/k/retry", want: 403},
		{name: "retry with no token", cfg: orchestrator.Config{APIToken: write}, method: "POST", url: "/api/v1/builds/k/retry", want: 401},
		{name: "retry with the read token", cfg: orchestrator.Config{APIToken: write, APIReadToken: read}, method: "POST", url: "/api/v1/builds/k/retry", token: read, want: 401},
		{name: "retry with a token prefix", cfg: orchestrator.Config{APIToken: write}, method: "POST", url: "/api/v1/builds/k/retry", token: "write", want: 401},
		{name: "retry with the token", cfg: orchestrator.Config{APIToken: write}, method: "POST", url: "/api/v1/builds/k/retry", token: write, want: 404},
		{name: "spec set needs the token", cfg: orchestrator.Config{APIToken: write}, method: "POST", url: "/api/v1/spec", want: 401},
		{name: "prune needs the token", cfg: orchestrator.Config{APIToken: write}, method: "POST", url: "/api/v1/hosts/mac-01/prune", want: 401},
		{name: "unknown mutation needs the token", cfg: orchestrator.Config{APIToken: write}, method: "DELETE", url: "/api/v1/hosts/mac-01", want: 401},
		{name: "read open without a read token", cfg: orchestrator.Config{APIToken: write}, method: "GET", url: "/api/v1/hosts", want: 200},
		{name: "read needs the read token", cfg: orchestrator.Config{APIReadToken: read}, method: "GET", url: "/api/v1/hosts", want: 401},
		{name: "read with the read token", cfg: orchestrator.Config{APIReadToken: read}, method: "GET", url: "/api/v1/builds", token: read, want: 200},
		{name: "read with the write token", cfg: orchestrator.Config{APIToken: write, APIReadToken: read}, method: "GET", url: "/api/v1/spec", token: write, want: 200},
		{name: "unclean path is guarded", cfg: orchestrator.Config{APIReadToken: read}, method: "GET", url: "/healthz/", want: 401},
		{name: "healthz open", cfg: orchestrator.Config{APIReadToken: read}, method: "GET", url: "/healthz", want: 200},
		{name: "readyz open", cfg: orchestrator.Config{APIReadToken: read}, method: "GET", url: "/readyz", want: 503},
		{name: "metrics open by default", cfg: orchestrator.Config{APIReadToken: read}, method: "GET", url: "/metrics", want: 200},
		{name: "metrics guarded when asked", cfg: orchestrator.Config{APIReadToken: read, MetricsAuth: true}, method: "GET", url: "/metrics", want: 401},
		{name: "metrics with the read token", cfg: orchestrator.Config{APIReadToken: read, MetricsAuth: true}, method: "GET", url: "/metrics", token: read, want: 200},
		{name: "dashboard page open", cfg: orchestrator.Config{APIReadToken: read}, method: "GET", url: "/", want: 200},
		{name: "read with the read-token cookie", cfg: orchestrator.Config{APIReadToken: read}, method: "GET", url: "/api/v1/hosts", cookie: read, want: 200},
		{name: "read with a wrong cookie", cfg: orchestrator.Config{APIReadToken: read}, method: "GET", url: "/api/v1/hosts", cookie: "nope", want: 401},
		{name: "cookie never authorizes a mutation", cfg: orchestrator.Config{APIToken: write, APIReadToken: read}, method: "POST", url: "/api/v1/spec", cookie: write, want: 401},
		{name: "webhook has its own auth", cfg: orchestrator.Config{APIReadToken: read, APIToken: write, WebhookToken: "wh"}, method: "POST", url: "/webhooks/buildkite", want: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newTestServer(t, &fakeBK{}, tt.cfg, func() time.Time { return t0 })
			req := httptest.NewRequest(tt.method, tt.url, strings.NewReader("{}"))
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			if tt.cookie != "" {
				req.AddCookie(&http.Cookie{Name: ReadTokenCookie, Value: tt.cookie})
			}
			rec := httptest.NewRecorder()
			o.Handler().ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Errorf("Got(%s %s) = %d %s, want %d", tt.method, tt.url, rec.Code, rec.Body, tt.want)
			}
			if rec.Code == 401 && rec.Header().Get("WWW-Authenticate") == "" && tt.url != "/webhooks/buildkite" {
				t.Errorf("Got(401 without WWW-Authenticate), want the Bearer challenge")
			}
			for _, tok := range []string{write, read} {
				if strings.Contains(rec.Body.String(), tok) {
					t.Errorf("Got(body) = %s, which holds a token", rec.Body)
				}
			}
		})
	}
}

func TestGuardLimitsBodies(t *testing.T) {
	t.Parallel()
	o := newTestServer(t, &fakeBK{}, orchestrator.Config{APIToken: "w"}, func() time.Time { return t0 })
	var readErr error
	h := o.guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, readErr = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	for _, size := range []int{apiMaxBody, apiMaxBody + 1} {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/spec", bytes.NewReader(make([]byte, size)))
		req.Header.Set("Authorization", "Bearer w")
		h.ServeHTTP(httptest.NewRecorder(), req)
		if tooBig := size > apiMaxBody; (readErr != nil) != tooBig {
			t.Errorf("Got(read of a %d-byte body) = %v, want an error %v", size, readErr, tooBig)
		}
	}
}

// TestWebhookReplayRespelt: the same signature, re-spelt, is still a replay.
func TestWebhookReplayRespelt(t *testing.T) {
	t.Parallel()
	body, _ := json.Marshal(map[string]any{"event": "build.running", "build": map[string]any{
		"number": 1, "state": "running", "meta_data": map[string]string{events.MetaKey: "k"}}})
	hdr := buildkitefake.SignatureHeader("s3cret", t0, body)
	var ts, sig string
	for part := range strings.SplitSeq(hdr, ",") {
		k, v, _ := strings.Cut(part, "=")
		if k == "timestamp" {
			ts = v
		} else {
			sig = v
		}
	}
	o := newTestServer(t, &fakeBK{}, orchestrator.Config{WebhookSecret: "s3cret"}, func() time.Time { return t0 })
	tests := []struct {
		header string
		want   int
	}{
		{hdr, 200},
		{"signature=" + sig + ",timestamp=" + ts, 401},
		{"timestamp=" + ts + ", signature=" + strings.ToUpper(sig), 401},
		{" timestamp=" + ts + " , signature=" + sig + " ", 401},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/buildkite", bytes.NewReader(body))
		req.Header.Set("X-Buildkite-Signature", tt.header)
		rec := httptest.NewRecorder()
		o.Handler().ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("Got(webhook with %q) = %d, want %d", tt.header, rec.Code, tt.want)
		}
	}
}
