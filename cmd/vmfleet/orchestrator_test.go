package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/sim/buildkitefake"
	"github.com/vmfleet/vmfleet/orchestrator"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

func TestWindowsList(t *testing.T) {
	var w windowsList
	err := w.UnmarshalText([]byte("0 2 * * *=2h; CRON_TZ=Europe/Berlin 0 3 * * 6=30m"))
	want := windowsList{
		{Schedule: "0 2 * * *", Duration: events.Duration(2 * time.Hour)},
		{Schedule: "CRON_TZ=Europe/Berlin 0 3 * * 6", Duration: events.Duration(30 * time.Minute)},
	}
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, w); diff != "" {
		t.Errorf("Got(windows) diff (-want +got):\n%s", diff)
	}
	if err := w.UnmarshalText([]byte("0 2 * * *")); err == nil {
		t.Errorf("Got(window without duration) = nil, want an error")
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func run(ctx context.Context, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := execute(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestOrchestratorCommand runs `vmfleet orchestrator` with its embedded NATS
// against the fake Buildkite, then reads it with `status` and `build list`.
func TestOrchestratorCommand(t *testing.T) {
	bk, err := buildkitefake.New(t.Context(), buildkitefake.WithToken("tok"))
	if err != nil {
		t.Fatal(err)
	}
	defer bk.Close()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "bk-token")
	if err := os.WriteFile(tokenFile, []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	apiTokenFile := filepath.Join(dir, "api-token")
	if err := os.WriteFile(apiTokenFile, []byte("api-tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int, 1)
	var stderr string
	go func() {
		var code int
		code, _, stderr = run(ctx, "orchestrator", "--log-format", "json", "--nats-listen", "127.0.0.1:-1",
			"--data-dir", filepath.Join(dir, "js"), "--http-addr", addr, "--instance", "cmdtest",
			"--buildkite-org", "acme", "--buildkite-api-url", bk.URL(), "--buildkite-token-file", tokenFile,
			"--api-token-file", apiTokenFile, "--release", "13", "--release", "14", "--cleanup-window", "0 2 * * *=2h")
		done <- code
	}()
	server := "http://" + addr
	if err := waitReady(server, 20*time.Second); err != nil {
		cancel()
		<-done
		t.Fatalf("%v; stderr:\n%s", err, stderr)
	}
	code, out, errOut := run(t.Context(), "status", "--server", server, "--json")
	var hosts api.HostsResponse
	if code != 0 || json.Unmarshal([]byte(out), &hosts) != nil {
		t.Errorf("Got(status --json) = %d %q %q, want 0 and JSON", code, out, errOut)
	}
	if code, out, _ = run(t.Context(), "build", "list", "--server", server); code != 0 || !strings.Contains(out, "KEY") {
		t.Errorf("Got(build list) = %d %q, want 0 and a table", code, out)
	}
	spec, err := api.NewClient(server, "").Spec(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := spec.Images.Releases; !cmp.Equal(got, []string{"13", "14"}) || len(spec.Cleanup.Windows) != 1 {
		t.Errorf("Got(spec) = %+v, want releases 13, 14 and one window", spec)
	}
	if code, _, errOut := run(t.Context(), "build", "retry", "nope", "--server", server, "--token-file", apiTokenFile); code != 2 || !strings.Contains(errOut, "no build record") {
		t.Errorf("Got(build retry unknown) = %d %q, want 2 naming the problem", code, errOut)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("Got(exit code) = %d, want 0; stderr:\n%s", code, stderr)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("orchestrator did not stop within 15s of cancel")
	}
}

// waitReady polls /readyz until it answers 200.
func waitReady(server string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		_, err := api.NewClient(server, "").Ready(context.Background())
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("orchestrator not ready within %s: %v", within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestOrchestratorConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "bad bun version", args: []string{"--bun-version", "1-2"}, want: "images.bun_version"},
		{name: "bad window", args: []string{"--cleanup-window", "every day=2h"}, want: "cleanup.windows"},
		{name: "org without token", args: []string{"--buildkite-org", "acme"}, want: "BUILDKITE_API_TOKEN"},
		{name: "missing token file", args: []string{"--buildkite-token-file", "/nonexistent/tok"}, want: "buildkite.token_file"},
		{name: "no events per subject", args: []string{"--stream-max-msgs-per-subject", "0"}, want: "nats.stream.max_msgs_per_subject"},
		{name: "tiny event size", args: []string{"--stream-max-msg-size", "100"}, want: "nats.stream.max_msg_size"},
		{name: "forget_after too short", args: []string{"--forget-after", "30s"}, want: "hosts.forget_after: 30s: must be at least 1m, e.g. 168h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("BUILDKITE_API_TOKEN", "")
			args := append([]string{"orchestrator", "--nats-listen", "127.0.0.1:-1", "--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0"}, tt.args...)
			code, _, errOut := run(t.Context(), args...)
			if code != 2 || !strings.Contains(errOut, tt.want) {
				t.Errorf("Got(%v) = %d %q, want exit 2 naming %q", tt.args, code, errOut, tt.want)
			}
		})
	}
}

func TestPrintHosts(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	resp := api.HostsResponse{Hosts: []orchestrator.HostView{
		{Host: "mac-01", State: "ready", LastSeen: now.Add(-12 * time.Second), Releases: []events.ReleaseStatus{{Release: "14", Ready: true, Reason: "ready"}}},
		{Host: "mac-02", State: "not_ready", LastSeen: now.Add(-time.Minute), Releases: []events.ReleaseStatus{{Release: "14", Reason: "image_missing"}}},
	}, Readiness: &events.FleetReadiness{Hosts: 2, Ready: 1}}
	var b strings.Builder
	if err := printHosts(&b, resp, now); err != nil {
		t.Fatal(err)
	}
	want := `HOST    STATE      MACOS 14   REASON             DRIFT  LAST SEEN
mac-01  ready      ready      -                  -      12s ago
mac-02  not_ready  not ready  14: image_missing  -      1m0s ago

2 hosts: 1 ready, 0 stale
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("Got(table) diff (-want +got):\n%s", diff)
	}
}
