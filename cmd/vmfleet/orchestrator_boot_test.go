package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/internal/natsauth"
	"github.com/vmfleet/vmfleet/internal/testlog"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

// startOrchestrator runs `vmfleet orchestrator args...` until the test ends
// and returns its HTTP base URL and a channel that receives its exit code.
func startOrchestrator(t *testing.T, args ...string) (base string, done <-chan int, stderr *syncBuffer) {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan int, 1)
	stderr = &syncBuffer{}
	go func() {
		ch <- execute(ctx, append([]string{"orchestrator", "--log-format", "json", "--http-addr", addr, "--instance", "boot"}, args...), io.Discard, stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-ch:
		case <-time.After(15 * time.Second):
			t.Error("orchestrator did not stop within 15s of cancel")
		}
	})
	return "http://" + addr, ch, stderr
}

// getJSON GETs url and decodes the body into v; status 0 means no answer.
func getJSON(url string, v any) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(v)
	return resp.StatusCode
}

// waitStarting waits until /readyz answers 503 "starting" with a reason
// holding every want, checking /healthz answers 200 meanwhile.
func waitStarting(t *testing.T, base string, done <-chan int, stderr *syncBuffer, want ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last api.ReadyResponse
	for {
		select {
		case code := <-done:
			t.Fatalf("Got(orchestrator exit) = %d while NATS is not there, want it to keep trying; stderr:\n%s", code, stderr.String())
		default:
		}
		var r api.ReadyResponse
		if code := getJSON(base+"/readyz", &r); code == http.StatusServiceUnavailable && r.Status == api.ReadyStarting {
			last = r
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(strings.ToLower(r.Reason), strings.ToLower(w))
			}
			if ok {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Got(/readyz) = %+v, want 503 starting with a reason holding %q; stderr:\n%s", last, want, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	var h map[string]string
	if code := getJSON(base+"/healthz", &h); code != http.StatusOK || h["status"] != "ok" {
		t.Errorf("Got(/healthz) = %d %v, want 200 ok", code, h)
	}
	var e api.ErrorResponse
	if code := getJSON(base+"/api/v1/hosts", &e); code != http.StatusServiceUnavailable || !strings.Contains(e.Error, "orchestrator starting: nats: ") {
		t.Errorf("Got(/api/v1/hosts) = %d %+v, want 503 naming the reason", code, e)
	}
}

// TestOrchestratorServesHTTPWithoutNATS: with NATS unreachable the
// orchestrator still opens its port (/healthz 200, /readyz 503 saying
// why), keeps trying, and turns ready once the server comes.
func TestOrchestratorServesHTTPWithoutNATS(t *testing.T) {
	natsAddr := freeAddr(t) // nothing listens there yet
	base, done, stderr := startOrchestrator(t, "--nats-url", "nats://"+natsAddr)
	waitStarting(t, base, done, stderr, "nats: connecting to nats://"+natsAddr, "connection refused")

	s, err := bus.StartServer(bus.ServerConfig{Listen: natsAddr, DataDir: t.TempDir()}, testlog.New(t, slog.LevelInfo))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if err := waitReady(base, 45*time.Second); err != nil {
		t.Fatalf("%v; stderr:\n%s", err, stderr.String())
	}
}

// TestOrchestratorServesHTTPWithRefusedCredentials: a seed the server does
// not know is an authorization violation, said by /readyz, and retried
// until the server's configuration lets it in.
func TestOrchestratorServesHTTPWithRefusedCredentials(t *testing.T) {
	// Reloadable: the name and port StartServer would otherwise set.
	s, dir := generatedNATSServer(t, "--server-name", "vmfleet", "--listen", freeAddr(t))
	url := s.ClientURL()
	stranger := filepath.Join(t.TempDir(), "stranger"+natsauth.SeedExt)
	newPub, _, err := natsauth.LoadOrCreateSeed(stranger, "stranger", false)
	if err != nil {
		t.Fatal(err)
	}
	base, done, stderr := startOrchestrator(t, "--nats-url", url, "--nats-nkey-seed", stranger)
	waitStarting(t, base, done, stderr, "nats: connecting to "+url, "authorization violation")
	// nats.go's default gives up after the same refusal twice in a row.
	deadline := time.Now().Add(20 * time.Second)
	for refused := 0; refused < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("Got(refused connections) = %d within 20s, want 3; stderr:\n%s", refused, stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
		cz, err := s.Connz(&server.ConnzOptions{State: server.ConnClosed})
		if err != nil {
			t.Fatal(err)
		}
		refused = 0
		for _, c := range cz.Conns {
			if c.Reason == server.AuthenticationViolation.String() {
				refused++
			}
		}
	}

	// The operator gives the orchestrator identity the new key (as
	// nats-config --rotate would) and reloads the server.
	oldPub, _, err := natsauth.LoadOrCreateSeed(filepath.Join(dir, natsauth.CredsDir, natsauth.DefaultOrchestrator+natsauth.SeedExt), "", false)
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, natsauth.DefaultConfigName)
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte(strings.ReplaceAll(string(b), oldPub, newPub)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := waitReady(base, 45*time.Second); err != nil {
		t.Fatalf("%v; stderr:\n%s", err, stderr.String())
	}
}
