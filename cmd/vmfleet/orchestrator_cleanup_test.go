package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/orchestrator"
)

// The removal grace and the disruption budget go from the orchestrator's
// config to the spec it publishes; a fraction out of (0,1] is refused with
// the key named.
func TestOrchestratorConfigGraceAndBudget(t *testing.T) {
	clearVMFleetEnv(t)
	cfg := defaultOrchestratorConfig()
	loadDeployConfig(t, &cfg, orchestratorConfigEnv, orchestratorYAML(t, "cleanup:\n  removed_grace: 48h\n  max_prune_hosts_fraction: 0.5\n"))
	if sp := cfg.spec(); sp.Cleanup.RemovedGrace.D() != 48*time.Hour || sp.Cleanup.MaxPruneHostsFraction != 0.5 {
		t.Errorf("Got(spec cleanup) = %+v, want removed_grace 48h, max_prune_hosts_fraction 0.5", sp.Cleanup)
	}
	if _, err := orchestrator.New(nil, nil, cfg.orchestratorCfg("test", "api-token", "secret", "")); err != nil {
		t.Errorf("Got(orchestrator.New) = %v, want valid", err)
	}

	cfg = defaultOrchestratorConfig()
	loadDeployConfig(t, &cfg, orchestratorConfigEnv, orchestratorYAML(t, "cleanup:\n  max_prune_hosts_fraction: 1.5\n"))
	if _, err := orchestrator.New(nil, nil, cfg.orchestratorCfg("test", "api-token", "secret", "")); err == nil || !strings.Contains(err.Error(), "cleanup.max_prune_hosts_fraction") {
		t.Errorf("Got(orchestrator.New with fraction 1.5) = %v, want an error naming cleanup.max_prune_hosts_fraction", err)
	}
}

// orchestratorYAML writes body as an orchestrator config file and returns
// its path.
func orchestratorYAML(t *testing.T, body string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "orchestrator.yaml")
	if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}
