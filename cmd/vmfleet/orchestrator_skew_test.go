package main

import (
	"strings"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/orchestrator"
)

// hosts.max_clock_skew goes from the file to the orchestrator; a value out of
// range is refused at start with the key named.
func TestOrchestratorConfigMaxClockSkew(t *testing.T) {
	clearVMFleetEnv(t)
	cfg := defaultOrchestratorConfig()
	loadDeployConfig(t, &cfg, orchestratorConfigEnv, orchestratorYAML(t, "hosts:\n  max_clock_skew: 90s\n"))
	if got := cfg.orchestratorCfg("test", "api-token", "secret", "").Hosts.MaxClockSkew; got != 90*time.Second {
		t.Errorf("Got(MaxClockSkew) = %s, want 1m30s", got)
	}
	if _, err := orchestrator.New(nil, nil, cfg.orchestratorCfg("test", "api-token", "secret", "")); err != nil {
		t.Errorf("Got(orchestrator.New) = %v, want valid", err)
	}

	cfg = defaultOrchestratorConfig()
	loadDeployConfig(t, &cfg, orchestratorConfigEnv, orchestratorYAML(t, "hosts:\n  max_clock_skew: 48h\n"))
	if _, err := orchestrator.New(nil, nil, cfg.orchestratorCfg("test", "api-token", "secret", "")); err == nil || !strings.Contains(err.Error(), "hosts.max_clock_skew") {
		t.Errorf("Got(orchestrator.New with max_clock_skew 48h) = %v, want an error naming hosts.max_clock_skew", err)
	}
}
