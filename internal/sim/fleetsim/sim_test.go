package fleetsim

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/orchestrator"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

// tlog routes slog to t.Log until the test ends.
type tlog struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *tlog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	w := &tlog{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// story collects the events of a run.
type story struct {
	mu     sync.Mutex
	events []Event
	url    chan string
}

func newStory() *story { return &story{url: make(chan string, 1)} }

func (s *story) observe(e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, e)
	if u, ok := strings.CutPrefix(e.Text, "dashboard and API: "); ok {
		s.url <- strings.Fields(u)[0]
	}
}

// index is the position of the first event whose text contains all of
// parts, or -1.
func (s *story) index(parts ...string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, e := range s.events {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(e.Text, p)
		}
		if ok {
			return i
		}
	}
	return -1
}

func smallFleet(registry bool) Config {
	c := DefaultConfig()
	c.Hosts, c.Missing, c.Busy, c.Registry = 4, 2, 1, registry
	c.Scale, c.Timeout, c.StopWhenConverged = 0.0005, 50*time.Second, true
	return c
}

func TestSmallFleetConverges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name               string
		registry           bool
		wantIdeal, wantPul int
	}{
		// Hosts 1 and 3 miss release 13 and 14: one build each; after the
		// bump every host needs both images: 8 more.
		{"host mode: one build per image and host", false, 2 + 8, 0},
		// One build per image: 2, then 2 after the bump; every missing
		// (host, image) is one pull.
		{"registry mode: one build per image, then pulls", true, 2 + 2, 2 + 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := newStory()
			sim, err := New(smallFleet(tt.registry), WithObserver(st.observe), WithComponentLogger(testLogger(t)), WithLogger(testLogger(t)))
			if err != nil {
				t.Fatal(err)
			}
			api := make(chan []orchestrator.HostView, 1)
			go func() { api <- pollHosts(t.Context(), st.url, 4) }()
			if err := sim.Run(t.Context()); err != nil {
				t.Fatalf("Got(Run) = %v, want nil", err)
			}
			res := sim.Result()
			if !res.Converged || len(res.Violations) != 0 {
				t.Errorf("Got(converged, violations) = %v, %+v, want true, none", res.Converged, res.Violations)
			}
			if res.BuildsCreated != tt.wantIdeal || res.BuildsIdeal != tt.wantIdeal {
				t.Errorf("Got(builds created, ideal) = %d, %d, want %d, %d", res.BuildsCreated, res.BuildsIdeal, tt.wantIdeal, tt.wantIdeal)
			}
			if res.Pulls != tt.wantPul {
				t.Errorf("Got(pulls) = %d, want %d", res.Pulls, tt.wantPul)
			}
			// After the bootstrap bump every host's two 3.6 images are outdated.
			if !res.PruneChecked || res.Deleted != 4*2 {
				t.Errorf("Got(prune checked, deleted) = %v, %d, want true, 8", res.PruneChecked, res.Deleted)
			}
			if got := <-api; len(got) != 4 {
				t.Errorf("Got(GET /api/v1/hosts during the run) = %d hosts, want 4", len(got))
			}
			// The story of host 1: missing release 13, a build, ready.
			missing := st.index("host mac-01 not ready: release 13 image missing")
			build := st.index("build requested for bun-build-macos-13-1.2.16-bootstrap-3.6")
			ready := st.index("host mac-01 ready")
			if missing < 0 || build < missing || ready < build {
				t.Errorf("Got(story positions missing, build, ready) = %d, %d, %d, want in that order", missing, build, ready)
			}
			if st.index("bootstrap bump: 3.6 → 3.7") < 0 || st.index("converged: 4/4 hosts ready") < 0 {
				t.Errorf("Got(story) without the bump or the convergence")
			}
		})
	}
}

// pollHosts reads the orchestrator's API once the story said where, until
// it lists n hosts (or the test ends).
func pollHosts(ctx context.Context, url <-chan string, n int) []orchestrator.HostView {
	var base string
	select {
	case base = <-url:
	case <-ctx.Done():
		return nil
	}
	c := api.NewClient(base, "")
	var hosts api.HostsResponse
	for ctx.Err() == nil {
		if resp, err := c.Hosts(ctx); err == nil {
			hosts = resp
			if len(hosts.Hosts) >= n {
				return hosts.Hosts
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return hosts.Hosts
}

func TestTimeoutNamesWhatIsMissing(t *testing.T) {
	t.Parallel()
	c := smallFleet(false)
	c.BuildTime, c.Timeout = 100*time.Hour, 2*time.Second
	sim, err := New(c, WithComponentLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	err = sim.Run(t.Context())
	if !errors.Is(err, ErrNotConverged) || !strings.Contains(err.Error(), "timed out after 2s") ||
		!strings.Contains(err.Error(), "mac-01 (release 13 image missing)") {
		t.Errorf("Got(Run) = %v, want ErrNotConverged naming mac-01's missing release 13", err)
	}
	if res := sim.Result(); res.Converged || !slices.Equal(res.Releases, c.Releases) {
		t.Errorf("Got(Result) = %+v, want not converged", res)
	}
}
