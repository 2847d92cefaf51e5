package e2e

import (
	"strings"
	"testing"

	"github.com/vmfleet/vmfleet/internal/sim/buildkitefake/realagent"
)

// TestRealBuildkiteAgentVersion: the buildkite-agent the tests run is the
// version tools/go.mod pins.
func TestRealBuildkiteAgentVersion(t *testing.T) {
	bin := realagent.Bin(t)
	got, want := realagent.Version(t, bin), realagent.PinnedVersion(t)
	t.Logf("FIGURE buildkite-agent: %s (%s)", got, bin)
	if !strings.HasPrefix(got, "buildkite-agent version "+want) {
		t.Errorf("Got(%s --version) = %q, want buildkite-agent version %s (tools/go.mod)", bin, got, want)
	}
}
