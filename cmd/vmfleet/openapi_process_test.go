package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestOpenAPIRoutesAnswer starts `vmfleet orchestrator` (embedded NATS, an
// API token, a webhook secret), reads GET /api/v1/openapi.json from it and
// calls every documented operation: none may answer 405, nor the router's
// plain-text 404 (a handler's JSON 404, "no such host", is an answer).
func TestOpenAPIRoutesAnswer(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	base, done, stderr := startOrchestrator(t, "--nats-listen", "127.0.0.1:-1", "--data-dir", filepath.Join(dir, "js"),
		"--api-token-file", write("api-token", "api-tok\n"), "--webhook-secret-file", write("wh", "wh-secret\n"), "--release", "14")
	if err := waitReady(base, 20*time.Second); err != nil {
		select {
		case code := <-done:
			t.Fatalf("orchestrator exited %d; stderr:\n%s", code, stderr.String())
		default:
		}
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if code := getJSON(base+"/api/v1/openapi.json", &doc); code != http.StatusOK || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("Got(GET /api/v1/openapi.json) = %d, openapi %q, want 200 and an OpenAPI 3 document", code, doc.OpenAPI)
	}
	var paths []string
	for p := range doc.Paths {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	calls := 0
	for _, path := range paths {
		for method := range doc.Paths[path] {
			if method == "parameters" {
				continue
			}
			method = strings.ToUpper(method)
			url := base + strings.NewReplacer("{host}", "mac-01", "{key}", "macos-14/bun").Replace(path)
			var body io.Reader
			if method == http.MethodPost {
				body = strings.NewReader(`{"dry_run": true}`)
				if strings.HasSuffix(path, "/forget") || strings.HasSuffix(path, "/retry") || strings.HasPrefix(path, "/webhooks/") {
					body = strings.NewReader(`{}`)
				}
			}
			req, err := http.NewRequest(method, url, body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer api-tok")
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			ct := resp.Header.Get("Content-Type")
			resp.Body.Close() // ends the event stream too
			calls++
			switch {
			case resp.StatusCode == http.StatusMethodNotAllowed:
				t.Errorf("Got(%s %s) = 405, want the documented method served", method, path)
			case resp.StatusCode == http.StatusNotFound && !strings.HasPrefix(ct, "application/json"):
				t.Errorf("Got(%s %s) = 404 %q from the router, want the documented route served", method, path, ct)
			}
		}
	}
	if calls < 20 {
		t.Errorf("Got(%d documented operations), want the whole API", calls)
	}
}
