package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmfleet/vmfleet/internal/natsauth"
)

// TestAgentSeedOfAnotherHostProcess: an agent given another host's seed
// says whose seed it is and which one to use, not only that the server
// refused a subject: `agent check` with its delivery error (exit 3),
// `agent run` at once, before it connects (exit 2).
func TestAgentSeedOfAnotherHostProcess(t *testing.T) {
	t.Parallel()
	url, dir := generatedServer(t, "--hosts", "mac-02")
	creds := filepath.Join(dir, natsauth.CredsDir)
	want := "nats.nkey_seed_file " + filepath.Join(creds, "mac-02.nk") + " is the seed of host mac-02, not of this host mac-01: " +
		"use the seed 'vmfleet nats-config' wrote for host mac-01 (" + filepath.Join(creds, "mac-01.nk") + "), or --host mac-02 if this machine is mac-02"
	seedArgs := []string{"--host", "mac-01", "--nats-url", url, "--nats-nkey-seed", filepath.Join(creds, "mac-02.nk")}

	p := newProc(t, "")
	_, stderr, code := p.run(nil, append([]string{"agent", "check"}, seedArgs...)...)
	if code != exitNotDelivered || !strings.Contains(stderr, want) {
		t.Errorf("Got(agent check) = exit %d, stderr:\n%s\nwant exit %d and %q", code, stderr, exitNotDelivered, want)
	}
	_, stderr, code = p.run(nil, append([]string{"agent", "run"}, seedArgs...)...)
	if code != 2 || !strings.Contains(stderr, want) || strings.Contains(stderr, "agent running") {
		t.Errorf("Got(agent run) = exit %d, stderr:\n%s\nwant exit 2 at start and %q", code, stderr, want)
	}
	// Its own seed passes; the orchestrator's on a host is named as such.
	_, stderr, code = p.run(nil, "agent", "check", "--host", "mac-01", "--nats-url", url, "--nats-nkey-seed", filepath.Join(creds, "mac-01.nk"))
	if code != 1 || strings.Contains(stderr, "is the seed of") {
		t.Errorf("Got(agent check with its own seed) = exit %d, stderr:\n%s\nwant 1 (not ready) and no seed error", code, stderr)
	}
	_, stderr, code = p.run(nil, "agent", "run", "--host", "mac-01", "--nats-url", url, "--nats-nkey-seed", filepath.Join(creds, "orchestrator.nk"))
	if w := "is the seed of the orchestrator, not of this host mac-01"; code != 2 || !strings.Contains(stderr, w) {
		t.Errorf("Got(agent run with the orchestrator's seed) = exit %d, stderr:\n%s\nwant 2 and %q", code, stderr, w)
	}
}
