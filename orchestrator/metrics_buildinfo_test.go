package orchestrator_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/vmfleet/vmfleet/internal/buildinfo"
	"github.com/vmfleet/vmfleet/orchestrator"
)

// TestBuildInfoOnEveryRegistry: an orchestrator's metrics carry
// vmfleet_build_info on its own registry (the demo's, a test's) and keep
// the one series of a registry that has it already (the daemon's).
func TestBuildInfoOnEveryRegistry(t *testing.T) {
	daemon := prometheus.NewRegistry()
	daemon.MustRegister(buildinfo.Collector())
	for name, opts := range map[string][]orchestrator.Option{"own": nil, "daemon's": {orchestrator.WithRegistry(daemon)}} {
		o, err := orchestrator.New(nil, nil, orchestrator.Config{Spec: testSpec("")}, opts...)
		if err != nil {
			t.Fatalf("New with the %s registry: %v", name, err)
		}
		if n, err := testutil.GatherAndCount(o.Registry(), "vmfleet_build_info"); err != nil || n != 1 {
			t.Errorf("Got(vmfleet_build_info series on the %s registry) = %d, %v; want 1", name, n, err)
		}
	}
}
