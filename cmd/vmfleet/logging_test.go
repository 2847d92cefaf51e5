package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestJSONLogDurationsProcess: JSON logs write durations as Go duration
// text ("15s"), as config keys and flags take them, not nanoseconds.
func TestJSONLogDurationsProcess(t *testing.T) {
	t.Parallel()
	p := newProc(t, "")
	bin := buildVMFleet(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "agent", "run", "--host", "mac-01", "--log-format", "json", "--interval", "15s")
	cmd.Env = p.env
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	waitOutput(t, &stderr, `the "agent running" log line`, func(s string) bool { return strings.Contains(s, `"agent running"`) })
	for line := range strings.SplitSeq(stderr.String(), "\n") {
		if !strings.Contains(line, `"agent running"`) {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if got := rec["interval"]; got != "15s" {
			t.Errorf("Got(interval) = %#v in %s, want \"15s\"", got, line)
		}
	}
}
