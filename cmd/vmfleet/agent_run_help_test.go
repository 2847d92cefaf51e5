package main

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestAgentRunHelpShowsNATSConfigFlags: the credential flags `agent run
// --help` shows in its examples are those `nats-config` tells the operator
// to run the agent with.
func TestAgentRunHelpShowsNATSConfigFlags(t *testing.T) {
	t.Parallel()
	code, out, _ := runVMFleet(t, "nats-config", "--hosts", "mac-01", "--out", t.TempDir())
	_, runWith, ok := strings.Cut(out, "run its agent with")
	if code != 0 || !ok {
		t.Fatalf("Got(nats-config) = %d %q, want it to say how to run the agent", code, out)
	}
	flagRe := regexp.MustCompile(`--nats-[a-z-]+`)
	told := flagRe.FindAllString(strings.SplitN(runWith, "\n", 3)[1], -1)
	if !slices.Contains(told, "--nats-nkey-seed") {
		t.Fatalf("Got(nats-config's agent flags) = %q, want --nats-nkey-seed among them", told)
	}
	code, help, _ := runVMFleet(t, "agent", "run", "--help")
	_, examples, ok := strings.Cut(help, "Examples:")
	examples, _, _ = strings.Cut(examples, "Flags:")
	if code != 0 || !ok {
		t.Fatalf("Got(agent run --help) = %d %q, want examples", code, help)
	}
	shown := flagRe.FindAllString(examples, -1)
	for _, f := range shown {
		if !slices.Contains(told, f) {
			t.Errorf("agent run --help shows %s, which nats-config never writes credentials for (it says %q)", f, told)
		}
	}
	for _, f := range told {
		if !slices.Contains(shown, f) {
			t.Errorf("agent run --help lacks %s, which nats-config tells the operator to use", f)
		}
	}
}
