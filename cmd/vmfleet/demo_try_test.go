package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestDemoCommandsToTryWork runs the demo binary as a newcomer would, then
// the commands it prints to try: `vmfleet events` replays its build events
// and `vmfleet status` shows its hosts, while the demo keeps running; the
// orchestrator's /metrics at the address status was given name the build,
// as the daemons' do.
func TestDemoCommandsToTryWork(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	demo := c.cmd(ctx, nil, "demo", "--hosts", "2", "--missing", "1", "--busy", "0", "--scale", "0.001")
	out, err := demo.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := demo.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = demo.Wait() }()
	var events, status []string
	var seen []string
	sc := bufio.NewScanner(out)
	for (events == nil || status == nil) && sc.Scan() {
		line := sc.Text()
		seen = append(seen, line)
		_, cmd, ok := strings.Cut(line, "  vmfleet ")
		if !ok {
			continue
		}
		args := strings.Fields(strings.ReplaceAll(cmd, "'", ""))
		switch {
		case args[0] == "events" && strings.Contains(cmd, "--since"):
			events = args
		case args[0] == "status":
			status = args
		}
	}
	if events == nil || status == nil {
		t.Fatalf("Got(demo output) without the vmfleet events --since and vmfleet status lines to try:\n%s", strings.Join(seen, "\n"))
	}
	if !strings.Contains(strings.Join(seen, "\n"), "nats sub --server nats://127.0.0.1:") {
		t.Errorf("Got(demo output) without the nats sub line:\n%s", strings.Join(seen, "\n"))
	}
	go func() { // keep the demo's pipe drained
		for sc.Scan() {
		}
	}()
	c.until("build", events...)
	deadline := time.Now().Add(20 * time.Second)
	for {
		stdout, _, code := c.run(nil, status...)
		if code == 0 && strings.Contains(stdout, "mac-01") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Got(vmfleet %s) = %d %q, want the demo's hosts", strings.Join(status, " "), code, stdout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	server := ""
	for i, a := range status {
		if a == "--server" && i+1 < len(status) {
			server = status[i+1]
		}
	}
	resp, err := http.Get(strings.TrimSuffix(server, "/") + "/metrics")
	if err != nil {
		t.Fatalf("GET the demo's /metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), "\nvmfleet_build_info{") || !strings.Contains(string(body), "vmfleet_orchestrator_hosts{") {
		t.Errorf("Got(GET %s/metrics) = %d without vmfleet_build_info beside the orchestrator's metrics", server, resp.StatusCode)
	}
}
