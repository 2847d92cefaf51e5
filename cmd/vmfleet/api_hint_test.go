package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeAPI answers GET /api/v1/hosts like the orchestrator: an empty fleet,
// or 401 unless the bearer token is token. It returns host:port.
func fakeAPI(t *testing.T, token string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if token != "" && r.Header.Get("Authorization") != "Bearer "+token {
			w.Header().Set("WWW-Authenticate", `Bearer realm="vmfleet"`)
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"a valid bearer token is required"}`))
			return
		}
		_, _ = w.Write([]byte(`{"hosts":[]}`))
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestServerWithoutSchemeProcess: --server host:port means http://host:port.
func TestServerWithoutSchemeProcess(t *testing.T) {
	t.Parallel()
	addr := fakeAPI(t, "")
	p := newProc(t, "")
	out, stderr, code := p.run(nil, "status", "--server", addr, "--json")
	if code != 0 || !strings.Contains(out, `"hosts"`) {
		t.Errorf("Got(status --server %s) = exit %d, stdout %q, stderr %q, want 0 and the fleet", addr, code, out, stderr)
	}
	out, _, code = p.run([]string{"VMFLEET_SERVER=" + addr}, "status", "--json")
	if code != 0 || !strings.Contains(out, `"hosts"`) {
		t.Errorf("Got(VMFLEET_SERVER=%s status) = exit %d %q, want 0 and the fleet", addr, code, out)
	}
}

// TestAPIUnauthorizedSaysHowToGiveTheTokenProcess: a 401 says how to give
// the token when none was given, and which token to check when it was
// refused.
func TestAPIUnauthorizedSaysHowToGiveTheTokenProcess(t *testing.T) {
	t.Parallel()
	server := "http://" + fakeAPI(t, "right")
	p := newProc(t, "")
	wrongFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(wrongFile, []byte("wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{name: "no token", want: "GET /api/v1/hosts: a valid bearer token is required (401 Unauthorized): " +
			"no API token was given: pass --token-file FILE, set VMFLEET_API_TOKEN_FILE=FILE or VMFLEET_API_TOKEN, " +
			"or save it in a context (vmfleet context set NAME --token-file FILE), with the token of the orchestrator's api_token_file (api_read_token_file is enough for reads)"},
		{name: "wrong token file", args: []string{"--token-file", wrongFile}, want: "GET /api/v1/hosts: a valid bearer token is required (401 Unauthorized): " +
			"the orchestrator refused the API token given (--token-file, VMFLEET_API_TOKEN_FILE, VMFLEET_API_TOKEN or the context's token file): " +
			"it must be the token of the orchestrator's api_token_file (or api_read_token_file, for reads)"},
		{name: "wrong token env", env: []string{"VMFLEET_API_TOKEN=wrong"}, want: "the orchestrator refused the API token given"},
		{name: "right token", env: []string{"VMFLEET_API_TOKEN=right"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := p.run(tt.env, append([]string{"status", "--server", server}, tt.args...)...)
			if tt.want == "" {
				if code != 0 {
					t.Errorf("Got(status) = exit %d %q, want 0", code, stderr)
				}
				return
			}
			if code != 2 || !strings.Contains(stderr, tt.want) {
				t.Errorf("Got(status) = exit %d, stderr:\n%s\nwant 2 and %q", code, stderr, tt.want)
			}
		})
	}
}

// TestOrchestratorEmptyTokenFileProcess: an api_token_file that holds
// nothing stops the orchestrator at start, rather than reading as "no
// token" and refusing every change while it runs.
func TestOrchestratorEmptyTokenFileProcess(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	empty := filepath.Join(dir, "api-token")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := newProc(t, "")
	_, stderr, code := p.run(nil, "orchestrator", "--nats-listen", "127.0.0.1:-1", "--data-dir", filepath.Join(dir, "js"),
		"--http-addr", freeAddr(t), "--api-token-file", empty)
	want := "vmfleet: configuration: api_token_file " + empty + " is empty: put a token in it (e.g. openssl rand -hex 32 > " + empty +
		"), or leave api_token_file unset for an API that refuses every change"
	if code != 2 || !strings.Contains(stderr, want) {
		t.Errorf("Got(orchestrator) = exit %d, stderr:\n%s\nwant 2 and %q", code, stderr, want)
	}
}
