package buildkitefake

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/buildkite/go-buildkite/v3/buildkite"
	"github.com/google/go-cmp/cmp"
)

func agentNames(as []buildkite.Agent) []string {
	out := []string{}
	for _, a := range as {
		out = append(out, *a.Name)
	}
	return out
}

func TestListAgents(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	c := newClient(t, s, testToken)
	a1 := s.AddAgent(org, Agent{Name: "mac-1-1", Hostname: "mac-1", MetaData: []string{"queue=darwin", "vm-ready-macos-14=false"}})
	s.AddAgent(org, Agent{Name: "mac-2-1", Hostname: "mac-2"})
	s.AddAgent(org, Agent{Name: "mac-2-2", Hostname: "mac-2"})
	gone := s.AddAgent(org, Agent{Name: "mac-3-1", Hostname: "mac-3", ConnectionState: "disconnected"})
	s.AddAgent("other", Agent{Name: "elsewhere", Hostname: "mac-1"})

	tests := []struct {
		name string
		opt  buildkite.AgentListOptions
		want []string
	}{
		{name: "connected only", want: []string{"mac-1-1", "mac-2-1", "mac-2-2"}},
		{name: "by hostname", opt: buildkite.AgentListOptions{Hostname: "mac-2"}, want: []string{"mac-2-1", "mac-2-2"}},
		{name: "by name", opt: buildkite.AgentListOptions{Name: "mac-1-1"}, want: []string{"mac-1-1"}},
		{name: "disconnected host", opt: buildkite.AgentListOptions{Hostname: "mac-3"}, want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := c.Agents.List(org, &tt.opt)
			if err != nil {
				t.Fatalf("Got(Agents.List) = %v, want nil", err)
			}
			if diff := cmp.Diff(tt.want, agentNames(got)); diff != "" {
				t.Errorf("Got(agents) mismatch (-want +got):\n%s", diff)
			}
		})
	}

	page, resp, err := c.Agents.List(org, &buildkite.AgentListOptions{ListOptions: buildkite.ListOptions{PerPage: 2}})
	if err != nil || len(page) != 2 || resp.NextPage != 2 || resp.LastPage != 2 {
		t.Errorf("Got(page 1 of 2) = %v next=%d last=%d err=%v", agentNames(page), resp.NextPage, resp.LastPage, err)
	}

	if err := s.SetAgentTags(org, a1.ID, "queue=darwin", "vm-ready-macos-14=true"); err != nil {
		t.Fatalf("SetAgentTags() = %v", err)
	}
	got, _, err := c.Agents.Get(org, a1.ID)
	if err != nil || !cmp.Equal(got.Metadata, []string{"queue=darwin", "vm-ready-macos-14=true"}) || *got.ConnectedState != "connected" {
		t.Errorf("Got(Agents.Get tags) = %v, %v", got, err)
	}
	if _, _, err := c.Agents.Get(org, gone.ID); err != nil {
		t.Errorf("Got(Get disconnected agent) = %v, want it found", err)
	}
	if _, _, err := c.Agents.Get(org, "nope"); apiStatus(err) != http.StatusNotFound {
		t.Errorf("Got(Get unknown agent) = %v, want 404", err)
	}
	if err := s.SetAgentTags(org, "nope"); !errors.Is(err, ErrNoAgent) {
		t.Errorf("Got(SetAgentTags(unknown)) = %v, want ErrNoAgent", err)
	}
}

// agentPut sends pause/resume the way go-buildkite v4 does; v3.13.0 has no method for it.
func agentPut(c *buildkite.Client, id, verb string, body any) (int, string, error) {
	req, err := c.NewRequest("PUT", "v2/organizations/"+org+"/agents/"+id+"/"+verb, body)
	if err != nil {
		return 0, "", err
	}
	resp, err := c.Do(req, nil)
	if err != nil {
		return apiStatus(err), apiMessage(err), nil
	}
	return resp.StatusCode, "", nil
}

func TestPauseResume(t *testing.T) {
	t.Parallel()
	clock := newClock()
	s := newFake(t, WithClock(clock.Now))
	c := newClient(t, s, testToken)
	a := s.AddAgent(org, Agent{Name: "mac-1-1", Hostname: "mac-1"})
	gone := s.AddAgent(org, Agent{Name: "mac-3-1", ConnectionState: "disconnected"})
	pause := map[string]any{"note": "not ready for any release", "timeout_in_minutes": 60}

	tests := []struct {
		name, id, verb string
		wantStatus     int
		wantMsg        string
		wantPaused     bool
	}{
		{name: "pause", id: a.ID, verb: "pause", wantStatus: 204, wantPaused: true},
		{name: "pause again", id: a.ID, verb: "pause", wantStatus: 422, wantMsg: "Agent is already paused", wantPaused: true},
		{name: "resume", id: a.ID, verb: "resume", wantStatus: 204},
		{name: "resume again", id: a.ID, verb: "resume", wantStatus: 422, wantMsg: "Agent is not paused"},
		{name: "pause disconnected", id: gone.ID, verb: "pause", wantStatus: 422, wantMsg: "Only connected agents may be paused"},
		{name: "pause unknown", id: "nope", verb: "pause", wantStatus: 404, wantMsg: "No agent found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any = struct{}{}
			if tt.verb == "pause" {
				body = pause
			}
			status, msg, err := agentPut(c, tt.id, tt.verb, body)
			if err != nil || status != tt.wantStatus || msg != tt.wantMsg {
				t.Errorf("Got(%s) = %d %q %v, want %d %q", tt.verb, status, msg, err, tt.wantStatus, tt.wantMsg)
			}
			if got, err := s.GetAgent(org, tt.id); err == nil && got.Paused != tt.wantPaused {
				t.Errorf("Got(paused) = %v, want %v", got.Paused, tt.wantPaused)
			}
		})
	}

	// A pause without a timeout ends after the default 5 minutes, on Tick.
	if status, _, _ := agentPut(c, a.ID, "pause", map[string]any{"note": "x"}); status != 204 {
		t.Fatalf("Got(pause) = %d, want 204", status)
	}
	s.Tick(t0.Add(4 * time.Minute))
	if got, _ := s.GetAgent(org, a.ID); !got.Paused || got.PausedNote != "x" || !got.PausedUntil.Equal(t0.Add(5*time.Minute)) {
		t.Errorf("Got(agent after 4m) = %+v, want paused until +5m", got)
	}
	s.Tick(t0.Add(5 * time.Minute))
	if got, _ := s.GetAgent(org, a.ID); got.Paused {
		t.Errorf("Got(paused after 5m) = true, want false")
	}
}
