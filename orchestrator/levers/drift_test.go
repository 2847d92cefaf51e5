package levers

import (
	"testing"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/buildkite"
)

func TestJudgeDrift(t *testing.T) {
	t.Parallel()
	reported := []string{"queue=darwin", "vm-ready-macos-14=true", "vmfleet-host=mac-01"}
	agent := func(state string, busy bool, tags ...string) buildkite.AgentInfo {
		return buildkite.AgentInfo{Name: "a", ConnectionState: state, Busy: busy, Tags: tags}
	}
	tests := []struct {
		name    string
		agents  []buildkite.AgentInfo
		want    events.DriftReason
		decided bool
	}{
		{name: "same", agents: []buildkite.AgentInfo{agent("connected", false, reported...)}, decided: true},
		{name: "operator extras in Buildkite", agents: []buildkite.AgentInfo{agent("connected", false, append([]string{"os=darwin", "queue=darwin"}, reported...)...)}, decided: true},
		{name: "value differs", agents: []buildkite.AgentInfo{agent("connected", false, "queue=darwin", "vm-ready-macos-14=false", "vmfleet-host=mac-01")},
			want: events.DriftTagsDiffer, decided: true},
		{name: "tag missing", agents: []buildkite.AgentInfo{agent("connected", false, "vm-ready-macos-14=true", "vmfleet-host=mac-01")},
			want: events.DriftTagsDiffer, decided: true},
		{name: "leftover vmfleet tag", agents: []buildkite.AgentInfo{agent("connected", false, append([]string{"vm-ready-macos-13=true"}, reported...)...)},
			want: events.DriftTagsDiffer, decided: true},
		{name: "no agent", want: events.DriftNoAgent, decided: true},
		{name: "busy with old tags", agents: []buildkite.AgentInfo{agent("connected", true, "vmfleet-host=mac-01")}},
		{name: "stopping", agents: []buildkite.AgentInfo{agent("stopping", false, "vmfleet-host=mac-01")}},
		{name: "one of two differs", agents: []buildkite.AgentInfo{agent("connected", false, reported...), agent("connected", false, "vmfleet-host=mac-01")},
			want: events.DriftTagsDiffer, decided: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, decided := judgeDrift(reported, tt.agents)
			if got != tt.want || decided != tt.decided {
				t.Errorf("Got(judgeDrift) = %q decided %v, want %q decided %v", got, decided, tt.want, tt.decided)
			}
		})
	}
}
