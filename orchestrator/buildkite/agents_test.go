package buildkite_test

import (
	"errors"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/internal/sim/buildkitefake"
	"github.com/vmfleet/vmfleet/internal/testlog"
	"github.com/vmfleet/vmfleet/orchestrator/buildkite"
	"github.com/vmfleet/vmfleet/orchestrator/internal/orchtest"
)

const (
	agentsOrg   = "acme"
	agentsToken = "bk-agents-token"
)

var t0 = orchtest.T0

// agentsEnv is a client on the fake Buildkite.
type agentsEnv struct {
	bk  *buildkitefake.Server
	api *buildkite.Client
}

func newAgentsEnv(t *testing.T) *agentsEnv {
	t.Helper()
	clock := orchtest.NewClock(t0)
	e := &agentsEnv{}
	var err error
	e.bk, err = buildkitefake.New(t.Context(), buildkitefake.WithToken(agentsToken), buildkitefake.WithClock(clock.Now),
		buildkitefake.WithLogger(testlog.New(t, slog.LevelDebug)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.bk.Close)
	e.api, err = buildkite.New(buildkite.Config{APIURL: e.bk.URL(), Token: agentsToken, Org: agentsOrg, Pipeline: "build-macos-vm", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestListAgentsPagesAndRateLimit(t *testing.T) {
	t.Parallel()
	e := newAgentsEnv(t)
	for range 250 {
		e.bk.AddAgent(agentsOrg, buildkitefake.Agent{Name: "a", Hostname: "h"})
	}
	e.bk.AddAgent(agentsOrg, buildkitefake.Agent{Name: "gone", ConnectionState: "disconnected"})
	got, err := e.api.ListAgents(t.Context())
	if err != nil || len(got) != 250 {
		t.Errorf("Got(ListAgents) = %d agents, %v, want 250 connected over 3 pages", len(got), err)
	}
	e.bk.AddFault(buildkitefake.Fault{Route: buildkitefake.RouteAgents, Status: http.StatusTooManyRequests, Reset: 30 * time.Second})
	_, err = e.api.ListAgents(t.Context())
	var rl *buildkite.RateLimitError
	if !errors.As(err, &rl) || rl.Reset != 30*time.Second {
		t.Errorf("Got(ListAgents on 429) = %v, want a *buildkite.RateLimitError resetting in 30s", err)
	}
}

func TestPauseAndResumeErrors(t *testing.T) {
	t.Parallel()
	e := newAgentsEnv(t)
	a := e.bk.AddAgent(agentsOrg, buildkitefake.Agent{Name: "mac-01-1", Hostname: "mac-01"})
	ctx := t.Context()
	tests := []struct {
		name string
		call func() error
		want error // nil: success
	}{
		{"pause", func() error { return e.api.PauseAgent(ctx, a.ID, "n", 30*time.Minute) }, nil},
		{"pause again", func() error { return e.api.PauseAgent(ctx, a.ID, "n", 30*time.Minute) }, buildkite.ErrAgentAlreadyPaused},
		{"resume", func() error { return e.api.ResumeAgent(ctx, a.ID) }, nil},
		{"resume again", func() error { return e.api.ResumeAgent(ctx, a.ID) }, buildkite.ErrAgentNotPaused},
	}
	for _, tt := range tests {
		err := tt.call()
		if (tt.want == nil && err != nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("Got(%s) = %v, want %v", tt.name, err, tt.want)
		}
	}
	if err := e.api.PauseAgent(ctx, a.ID, "n", 30*time.Minute); err != nil {
		t.Fatal(err)
	}
	got, _ := e.bk.GetAgent(agentsOrg, a.ID)
	if !got.PausedUntil.Equal(t0.Add(30*time.Minute)) || got.PausedNote != "n" {
		t.Errorf("Got(pause) = until %s note %q, want until t0+30m note n", got.PausedUntil, got.PausedNote)
	}
	var ae *buildkite.APIError
	if err := e.api.PauseAgent(ctx, "nope", "n", time.Minute); !errors.As(err, &ae) || ae.Status != 404 || errors.Is(err, buildkite.ErrAgentAlreadyPaused) {
		t.Errorf("Got(pause unknown agent) = %v, want a 404 APIError", err)
	}
}
