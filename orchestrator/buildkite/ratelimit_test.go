package buildkite_test

import (
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/internal/sim/buildkitefake"
	"github.com/vmfleet/vmfleet/internal/testlog"
	"github.com/vmfleet/vmfleet/orchestrator/buildkite"
	"github.com/vmfleet/vmfleet/orchestrator/internal/orchtest"
)

// countingTransport counts the requests that reach Buildkite.
type countingTransport struct{ n atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

// TestRateLimitHoldsEveryCall: after a 429 announcing a reset, no call of
// the client reaches Buildkite before it — agents listing, pauses and
// builds alike — each returns a held *RateLimitError with the time left;
// at the reset calls go out again.
func TestRateLimitHoldsEveryCall(t *testing.T) {
	t.Parallel()
	clock := orchtest.NewClock(t0)
	bk, err := buildkitefake.New(t.Context(), buildkitefake.WithToken(agentsToken), buildkitefake.WithClock(clock.Now),
		buildkitefake.WithLogger(testlog.New(t, slog.LevelDebug)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bk.Close)
	a := bk.AddAgent(agentsOrg, buildkitefake.Agent{Name: "a", Hostname: "h"})
	rt := &countingTransport{}
	api, err := buildkite.New(buildkite.Config{APIURL: bk.URL(), Token: agentsToken, Org: agentsOrg, Pipeline: "build-macos-vm",
		Timeout: 10 * time.Second, Transport: rt, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	bk.AddFault(buildkitefake.Fault{Route: buildkitefake.RouteAgents, Status: http.StatusTooManyRequests, Reset: 30 * time.Second})
	_, err = api.ListAgents(t.Context())
	var rl *buildkite.RateLimitError
	if !errors.As(err, &rl) || rl.Reset != 30*time.Second || rl.Held {
		t.Fatalf("Got(ListAgents on 429) = %v, want a *buildkite.RateLimitError resetting in 30s", err)
	}
	if got := rt.n.Load(); got != 1 {
		t.Fatalf("Got(requests) = %d, want 1", got)
	}
	clock.Add(20 * time.Second)
	calls := map[string]func() error{
		"ListAgents": func() error { _, err := api.ListAgents(t.Context()); return err },
		"PauseAgent": func() error { return api.PauseAgent(t.Context(), a.ID, "n", time.Minute) },
		"ListBuilds": func() error { _, err := api.ListBuilds(t.Context(), "k"); return err },
		"CreateBuild": func() error {
			_, err := api.CreateBuild(t.Context(), buildkite.BuildRequest{Message: "m"})
			return err
		},
	}
	for name, call := range calls {
		err := call()
		var rl *buildkite.RateLimitError
		if !errors.As(err, &rl) || !rl.Held || rl.Reset != 10*time.Second {
			t.Errorf("Got(%s 20s into a 30s reset) = %v, want a held *buildkite.RateLimitError with 10s left", name, err)
		}
	}
	if got := rt.n.Load(); got != 1 {
		t.Errorf("Got(requests before the reset) = %d, want 1 (only the one answered 429)", got)
	}
	clock.Add(10 * time.Second)
	if got, err := api.ListAgents(t.Context()); err != nil || len(got) != 1 {
		t.Errorf("Got(ListAgents at the reset) = %d agents, %v, want 1, nil", len(got), err)
	}
	if got := rt.n.Load(); got != 2 {
		t.Errorf("Got(requests after the reset) = %d, want 2", got)
	}
}
