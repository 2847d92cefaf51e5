package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/internal/natsauth"
)

// handMadeSeed is a copy of the seed file at path without the comment
// 'vmfleet nats-config' writes above it, as a seed made by other tools:
// whose it is cannot be read from it.
func handMadeSeed(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			lines = append(lines, l)
		}
	}
	out := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := os.WriteFile(out, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSubjectCovers(t *testing.T) {
	for _, tt := range []struct {
		p, s string
		want bool
	}{
		{"vmfleet.>", "vmfleet.>", true},
		{"vmfleet.>", "vmfleet.host.*.health", true},
		{"vmfleet.>", "vmfleet", false},
		{"vmfleet.host.>", "vmfleet.>", false},
		{"vmfleet.host.>", "vmfleet.host.mac-01.health", true},
		{"vmfleet.host.*.health", "vmfleet.host.*.health", true},
		{"vmfleet.host.*.health", "vmfleet.host.>", false},
		{"vmfleet.host.*", "vmfleet.host.mac-01.health", false},
		{"vmfleet.cmd.mac-01.>", "vmfleet.cmd.mac-02.prune", false},
		{"vmfleet.build.>", "vmfleet.build.>", true},
	} {
		if got := subjectCovers(tt.p, tt.s); got != tt.want {
			t.Errorf("Got(subjectCovers(%q, %q)) = %v, want %v", tt.p, tt.s, got, tt.want)
		}
	}
}

// TestEventsSeedChecked: `vmfleet events` given a seed 'vmfleet nats-config'
// wrote for a host, or for the orchestrator with a subject it does not
// follow, stops before connecting (exit 2), naming whose seed it is and the
// consumer seed to use; the orchestrator's seed within its subjects, a
// consumer's seed (whatever its file is called) and a hand-made seed are
// not refused.
func TestEventsSeedChecked(t *testing.T) {
	url, dir := generatedServer(t)
	creds := filepath.Join(dir, natsauth.CredsDir)
	seed := func(name string) string { return filepath.Join(creds, name+natsauth.SeedExt) }
	ops := seed("ops")
	for _, tt := range []struct {
		name string
		args []string
		want string // "" not refused
	}{
		{"host", []string{"--nats-nkey-seed", seed("mac-01")},
			"nats.nkey_seed_file " + seed("mac-01") + " is the seed of host mac-01, an agent's identity, which may not read vmfleet.>: " +
				"use a read-only consumer's seed, such as " + ops},
		{"host, replay", []string{"--nats-nkey-seed", seed("mac-01"), "--since", "1h"}, "may not read stream VMFLEET (--since), vmfleet.>"},
		{"orchestrator, every subject", []string{"--nats-nkey-seed", seed("orchestrator")},
			"is the seed of the orchestrator which may not read vmfleet.>: use a read-only consumer's seed, such as " + ops +
				", or --subject within what it follows (host.>, prune.>, build.>, fleet.>), or --since"},
		{"orchestrator, commands", []string{"--nats-nkey-seed", seed("orchestrator"), "--subject", "build.>", "--subject", "cmd.>"}, "may not read vmfleet.cmd.>"},
		{"orchestrator, its subjects", []string{"--nats-nkey-seed", seed("orchestrator"), "--subject", "build.>"}, ""},
		{"consumer", []string{"--nats-nkey-seed", ops}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// A refusal comes before connecting; a tail runs until stopped.
			wait := 2 * time.Second
			if tt.want != "" {
				wait = 30 * time.Second
			}
			ctx, cancel := context.WithTimeout(t.Context(), wait)
			defer cancel()
			var out, errw syncBuffer
			code := execute(ctx, append([]string{"events", "--nats-url", url}, tt.args...), &out, &errw)
			refused := strings.Contains(errw.String(), "is the seed of")
			switch {
			case tt.want == "" && (refused || code != 0):
				t.Errorf("Got(events) = exit %d, stderr %q; want it to tail until stopped", code, errw.String())
			case tt.want != "" && (code != 2 || !strings.Contains(errw.String(), tt.want)):
				t.Errorf("Got(events) = exit %d, stderr:\n%s\nwant exit 2 and %q", code, errw.String(), tt.want)
			}
		})
	}

	// A consumer seed under another name keeps its inbox: no violation.
	renamed := filepath.Join(t.TempDir(), "reader.nk")
	b, err := os.ReadFile(ops)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(renamed, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errw syncBuffer
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if code := execute(ctx, []string{"events", "--nats-url", url, "--nats-nkey-seed", renamed, "--since", "1h"}, &out, &errw); ctx.Err() == nil && code != 0 {
		t.Errorf("Got(events --since with a renamed consumer seed) = exit %d, stderr:\n%s\nwant the replay", code, errw.String())
	}
}
