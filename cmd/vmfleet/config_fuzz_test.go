package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/cobra"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
	"github.com/vmfleet/vmfleet/orchestrator"
)

// FuzzConfigFile: any config file gives a configuration or an error that
// names it as one (exit 2 with the key and the file), never a panic — for
// the orchestrator's and the agent's configs alike.
func FuzzConfigFile(f *testing.F) {
	for _, s := range []string{
		"instance: a\nlease_ttl: 15s\nimages:\n  releases: [\"13\", \"14\"]\n  bun_version: 1.2.16\n",
		"cleanup:\n  windows:\n    - schedule: \"0 2 * * *\"\n      duration: 2h\n",
		"nats:\n  urls: [nats://a:4222, nats://b:4222]\n  replicas: 3\nbuilds: {max_concurrent: -1}\n",
		"check:\n  interval: soon\n", "host: mac-01\nimages: {releases: 14}\n", "unknown_key: 1\n",
		"a: &x [*x, *x]\n", "- just\n- a list\n", "tick: 1e400\n", "images:\n  releases:\n    a: b\n", "\t\x00",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, "config.yaml")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		oc := defaultOrchestratorConfig()
		err := cliconfig.Bind(&cobra.Command{Use: "orchestrator"}, &oc, "VMFLEET_FUZZ_UNSET").LoadFile(path)
		if err != nil && !errors.Is(err, cliconfig.ErrConfig) {
			t.Fatalf("Got(orchestrator config error) = %v, want it to wrap cliconfig.ErrConfig", err)
		}
		if err == nil {
			_ = orchestrator.ValidateSpec(oc.orchestratorCfg("fuzz", "", "", "").Spec)
		}
		ac := defaultAgentConfig()
		err = cliconfig.Bind(&cobra.Command{Use: "agent"}, &ac, "VMFLEET_FUZZ_UNSET").LoadFile(path)
		if err != nil && !errors.Is(err, cliconfig.ErrConfig) {
			t.Fatalf("Got(agent config error) = %v, want it to wrap cliconfig.ErrConfig", err)
		}
	})
}
