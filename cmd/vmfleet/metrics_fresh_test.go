package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/internal/sim/buildkitefake"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

// documentedMetrics are the metric names docs/metrics.md has a row for.
func documentedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	doc, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(vmfleet_[a-z0-9_]+)`").FindAllStringSubmatch(string(doc), -1) {
		out[m[1]] = true
	}
	return out
}

// fetchMetrics GETs url until it answers 200 (or within passes) and returns
// the names of the metrics in the exposition (# TYPE lines) and the text.
func fetchMetrics(t *testing.T, url string, within time.Duration, exited <-chan struct{}) (map[string]bool, string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				names := map[string]bool{}
				for _, m := range regexp.MustCompile(`(?m)^# TYPE (\S+) `).FindAllStringSubmatch(string(body), -1) {
					names[m[1]] = true
				}
				return names, string(body)
			}
		}
		select {
		case <-exited:
			t.Fatalf("the daemon exited before %s answered", url)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer 200 within %s: %v", url, within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFreshDaemonsExportEveryDocumentedMetric starts both daemons as an
// operator would (the orchestrator with Buildkite configured, the agent
// without NATS) and scrapes them once, before anything happened: every
// metric docs/metrics.md documents for the daemon is there already (a
// labelled metric with a zero series for each known label value), and so are
// vmfleet_build_info and the Go and process collectors.
func TestFreshDaemonsExportEveryDocumentedMetric(t *testing.T) {
	documented := documentedMetrics(t)
	standard := []string{"vmfleet_build_info", "go_goroutines", "go_memstats_heap_alloc_bytes", "process_start_time_seconds",
		"process_resident_memory_bytes"}

	t.Run("orchestrator", func(t *testing.T) {
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
		base, done, stderr := startOrchestrator(t, "--nats-listen", "127.0.0.1:-1", "--data-dir", filepath.Join(dir, "js"),
			"--buildkite-org", "acme", "--buildkite-api-url", bk.URL(), "--buildkite-token-file", tokenFile,
			"--release", "14")
		if err := waitReady(base, 20*time.Second); err != nil {
			select {
			case code := <-done:
				t.Fatalf("orchestrator exited %d; stderr:\n%s", code, stderr.String())
			default:
			}
			t.Fatal(err)
		}
		names, body := fetchMetrics(t, base+"/metrics", 10*time.Second, nil)
		for name := range documented {
			if strings.HasPrefix(name, "vmfleet_agent_") {
				continue
			}
			if !names[name] {
				t.Errorf("Got(fresh orchestrator /metrics) lacks %s, want every documented orchestrator metric from the start", name)
			}
		}
		for _, name := range standard {
			if !names[name] {
				t.Errorf("Got(fresh orchestrator /metrics) lacks %s", name)
			}
		}
		for _, series := range []string{`vmfleet_orchestrator_hosts{state="stale"} 0`, `vmfleet_orchestrator_pulls_total{result="failed"} 0`,
			`vmfleet_orchestrator_webhooks_total{result="unauthorized"} 0`, `vmfleet_orchestrator_builds{state="blocked"} 0`} {
			if !strings.Contains(body, series) {
				t.Errorf("Got(fresh orchestrator /metrics) lacks the zero series %s", series)
			}
		}
	})

	t.Run("agent", func(t *testing.T) {
		bin := buildVMFleet(t)
		home := t.TempDir()
		st := tarttest.NewState(t, "", "")
		addr := freeAddr(t)
		ctx, cancel := context.WithCancel(context.Background())
		cmd := exec.CommandContext(ctx, bin, "agent", "run", "--host", "mac-01", "--release", "14",
			"--state-dir", filepath.Join(home, "state"), "--metrics-listen", addr, "--log-format", "json")
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "VMFLEET_TART=" + tarttest.BuildExecutable(t),
			"TART_HOME=" + filepath.Join(home, "tart")}, st.Env()...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		defer func() {
			cancel()
			<-exited
			if t.Failed() {
				t.Logf("agent stderr:\n%s", stderr.String())
			}
		}()
		names, body := fetchMetrics(t, "http://"+addr+"/metrics", 20*time.Second, exited)
		for name := range documented {
			if strings.HasPrefix(name, "vmfleet_agent_") && !names[name] {
				t.Errorf("Got(fresh agent /metrics) lacks %s, want every documented agent metric from the start", name)
			}
		}
		for _, name := range standard {
			if !names[name] {
				t.Errorf("Got(fresh agent /metrics) lacks %s", name)
			}
		}
		for _, series := range []string{`vmfleet_agent_publishes_total{result="error"} 0`, `vmfleet_agent_commands_total{code="busy",verb="pull"} 0`} {
			if !strings.Contains(body, series) {
				t.Errorf("Got(fresh agent /metrics) lacks the zero series %s", series)
			}
		}
	})
}
