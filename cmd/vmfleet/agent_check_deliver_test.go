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
	// who is how an error names the identity: the seed file and its public key.
	who := func(seed string) string {
		pub, err := natsauth.PublicKey(seed)
		if err != nil {
			t.Fatal(err)
		}
		return "nkey seed file " + seed + " (" + pub + ")"
	}
	tests := []struct {
		name       string
		url, seed  string
		code       int
		wantStderr []string
	}{
		{name: "delivered", url: url, seed: seed("mac-01"), code: 1},
		{name: "another host's seed", url: url, seed: seed("mac-02"), code: exitNotDelivered,
			wantStderr: []string{"vmfleet: health event refused: NATS " + url + " as " + who(seed("mac-02")) +
				`: the server refused: Permissions Violation for Publish to "vmfleet.host.mac-01.health"` +
				" (a host's credentials may publish only its own health: is --nats-nkey-seed the seed 'vmfleet nats-config' wrote for host mac-01?)"}},
		{name: "credentials refused", url: url, seed: stranger, code: exitNotDelivered,
			wantStderr: []string{"vmfleet: health event not delivered: NATS " + url + " as " + who(stranger) +
				": authorization violation: the server refused these credentials\n"}},
		{name: "NATS unreachable", url: unreachable, seed: seed("mac-01"), code: exitNotDelivered,
			wantStderr: []string{"vmfleet: health event not delivered: NATS " + unreachable + " as " + who(seed("mac-01")) +
				": connection refused: no NATS server listens there (dial tcp " + strings.TrimPrefix(unreachable, "nats://") + ": connect: connection refused)\n"}},
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
