package buildkitefake

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// gate is a webhook endpoint that holds every request until released and
// records the most requests it held at once and each build's events in order.
type gate struct {
	mu      sync.Mutex
	held    int
	most    int
	byBuild map[string][]string
	release chan struct{}
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	g.held++
	g.most = max(g.most, g.held)
	g.mu.Unlock()
	<-g.release
	rc := &receiver{now: time.Now}
	rec := httptest.NewRecorder()
	rc.ServeHTTP(rec, r)
	got := rc.events()[0]
	g.mu.Lock()
	g.held--
	key := string(rune('0' + got.Number))
	g.byBuild[key] = append(g.byBuild[key], got.Event)
	g.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func TestWebhookWorkersDeliverAtOnceAndEachBuildInOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		workers, wantMost int
	}{
		{1, 1},
		{4, 3}, // three builds: at most one webhook of each in flight
	}
	for _, tt := range tests {
		t.Run("workers="+string(rune('0'+tt.workers)), func(t *testing.T) {
			t.Parallel()
			g := &gate{byBuild: map[string][]string{}, release: make(chan struct{})}
			hook := httptest.NewServer(g)
			t.Cleanup(hook.Close)
			clock := newClock()
			s := newFake(t, WithClock(clock.Now), WithWebhook(hook.URL, secret), WithWebhookWorkers(tt.workers))
			c := newClient(t, s, testToken)
			for _, k := range []string{"k1", "k2", "k3"} {
				create(t, c, k, "main")
			}
			s.Step()
			s.Step()
			// Let requests in one by one until all nine are delivered.
			done := make(chan struct{})
			go func() {
				defer close(done)
				flush(t, s)
			}()
			// The first round: every worker that can take one holds one.
			waitHeld(t, g, tt.wantMost)
			for range 9 {
				waitHeld(t, g, 1)
				g.release <- struct{}{}
			}
			<-done
			if g.most != tt.wantMost {
				t.Errorf("Got(most webhooks in flight) = %d, want %d", g.most, tt.wantMost)
			}
			want := []string{"build.scheduled", "build.running", "build.finished"}
			for b, evs := range g.byBuild {
				if diff := cmp.Diff(want, evs); diff != "" {
					t.Errorf("Got(build %s webhooks) out of order (-want +got):\n%s", b, diff)
				}
			}
			if len(g.byBuild) != 3 {
				t.Errorf("Got(builds with webhooks) = %d, want 3", len(g.byBuild))
			}
		})
	}
}

// waitHeld waits until the gate holds at least n requests.
func waitHeld(t *testing.T, g *gate, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		g.mu.Lock()
		held := g.held
		g.mu.Unlock()
		if held >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %d webhooks in flight (have %d)", n, held)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestWithWebhookWorkersBounds(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 65} {
		if _, err := New(t.Context(), WithWebhookWorkers(n)); err == nil {
			t.Errorf("Got(New(WithWebhookWorkers(%d))) = nil error, want ErrInvalidOption", n)
		}
	}
}
