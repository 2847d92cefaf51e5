package fleetsim

import (
	"errors"
	"strings"
	"testing"
)

func TestAgentsPerConn(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		hosts   int
		set     int
		chaos   bool
		limit   int
		want    int
		wantErr string
	}{
		{"room for one each", 1000, 0, false, 20000, 1, ""},
		{"10,000 hosts under a limit of 20,000", 10000, 0, false, 20000, 2, ""},
		{"a low limit", 1000, 0, false, 1224, 10, ""},
		{"set by hand", 1000, 5, false, 1 << 30, 5, ""},
		{"chaos over the limit", 10000, 0, true, 20000, 0, "10000 hosts with chaos need a NATS connection each, about 21024 file descriptors; this process may open 20000"},
		{"no room at all", 10, 0, false, 1000, 0, "leaves no room"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := DefaultConfig()
			c.Hosts, c.AgentsPerConn, c.Chaos.On = tt.hosts, tt.set, tt.chaos
			got, err := c.agentsPerConn(tt.limit)
			if tt.wantErr != "" {
				if err == nil || !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Got(agentsPerConn) = %d, %v, want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Got(agentsPerConn) = %d, %v, want %d", got, err, tt.want)
			}
		})
	}
}

func TestAgentsPerConnValidated(t *testing.T) {
	t.Parallel()
	c := DefaultConfig()
	c.AgentsPerConn = 13
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "agents_per_conn: 13: want 0 (automatic) to hosts (12)") {
		t.Errorf("Got(Validate more per connection than hosts) = %v", err)
	}
	c.AgentsPerConn, c.Chaos = 2, Chaos{On: true, Seed: 1}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "agents_per_conn: 2: chaos cuts one host's network") {
		t.Errorf("Got(Validate sharing with chaos) = %v", err)
	}
}

// Agents sharing connections converge as agents on their own do: the
// orchestrator sees the same hosts, events and replies.
func TestSharedConnectionsConverge(t *testing.T) {
	t.Parallel()
	c := smallFleet(true)
	c.Hosts, c.Missing, c.AgentsPerConn = 5, 2, 2
	sim, err := New(c, WithComponentLogger(testLogger(t)), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Run(t.Context()); err != nil {
		t.Fatalf("Got(Run) = %v, want nil", err)
	}
	res := sim.Result()
	if !res.Converged || len(res.Violations) != 0 {
		t.Errorf("Got(converged, violations) = %v, %+v, want true, none", res.Converged, res.Violations)
	}
	if res.AgentConns != 3 || res.AgentsPerConn != 2 {
		t.Errorf("Got(agent connections, agents each) = %d, %d, want 3, 2", res.AgentConns, res.AgentsPerConn)
	}
	// Two missing images, then both releases on every host after the bump.
	if res.Pulls != 2+2*5 || !res.PruneChecked || res.Deleted != 2*5 {
		t.Errorf("Got(pulls, prune checked, deleted) = %d, %v, %d, want 12, true, 10", res.Pulls, res.PruneChecked, res.Deleted)
	}
}
