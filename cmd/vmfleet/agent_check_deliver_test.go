package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmfleet/vmfleet/internal/natsauth"
)

// TestAgentCheckExitSaysDelivery runs `vmfleet agent check` (the binary)
// against a real nats-server loaded with `nats-config`'s configuration: a
// health event the server refuses or never gets is exit 3 with the reason,
// not 0 or 1 as if it had been seen.
func TestAgentCheckExitSaysDelivery(t *testing.T) {
	t.Parallel()
	url, dir := generatedServer(t, "--hosts", "mac-02")
	seed := func(name string) string { return filepath.Join(dir, natsauth.CredsDir, name+natsauth.SeedExt) }
	stranger := filepath.Join(t.TempDir(), "stranger"+natsauth.SeedExt)
	if _, _, err := natsauth.LoadOrCreateSeed(stranger, "stranger", false); err != nil {
		t.Fatal(err)
	}
	unreachable := "nats://" + freeAddr(t)
	tests := []struct {
		name       string
		url, seed  string
		code       int
		wantStderr []string
	}{
		{name: "delivered", url: url, seed: seed("mac-01"), code: 1},
		{name: "another host's seed", url: url, seed: seed("mac-02"), code: exitNotDelivered,
			wantStderr: []string{`health event refused by nats`, `Permissions Violation for Publish to "vmfleet.host.mac-01.health"`, "seed 'vmfleet nats-config' wrote for host mac-01"}},
		{name: "credentials refused", url: url, seed: stranger, code: exitNotDelivered,
			wantStderr: []string{"health event not delivered: nats: connecting to " + url, "Authorization Violation"}},
		{name: "NATS unreachable", url: unreachable, seed: seed("mac-01"), code: exitNotDelivered,
			wantStderr: []string{"health event not delivered: nats: connecting to " + unreachable}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newProc(t, "")
			out, stderr, code := p.run(nil, "agent", "check", "--host", "mac-01", "--nats-url", tt.url, "--nats-nkey-seed", tt.seed)
			if code != tt.code {
				t.Errorf("Got(exit) = %d, want %d", code, tt.code)
			}
			if !strings.Contains(out, "RELEASE") {
				t.Errorf("Got(stdout) = %q, want the check's table whatever the delivery", out)
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("Got(stderr) lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}
