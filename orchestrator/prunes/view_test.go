package prunes

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmfleet/vmfleet/cleanup"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/internal/orchtest"
)

// TestPruneViewWindowState walks a clock through openings, closings and a
// spec change: the pass's window state is always what cleanup computes now,
// whether kept from an earlier pass or not.
func TestPruneViewWindowState(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ws   []events.Window
	}{
		{"chained every minute", []events.Window{{Schedule: "* * * * *", Duration: events.Duration(time.Minute)}}},
		{"nightly in Berlin", []events.Window{{Schedule: "CRON_TZ=Europe/Berlin 0 13 * * *", Duration: events.Duration(90 * time.Second)}}},
		{"overlapping", []events.Window{{Schedule: "*/2 * * * *", Duration: events.Duration(3 * time.Minute)}, {Schedule: "0 13 * * *", Duration: events.Duration(time.Minute)}}},
		{"none", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			now := t0.Add(-5 * time.Second)
			spec := &events.Spec{Images: orchtest.Images(), Cleanup: events.CleanupPolicy{Windows: tt.ws}}
			m, _ := newTestManager(t, func() time.Time { return now }, nil, 10)
			wins, err := cleanup.ParseWindows(tt.ws)
			if err != nil {
				t.Fatal(err)
			}
			// 10 s steps over an hour, then one step back in time.
			steps := []time.Duration{}
			for range 360 {
				steps = append(steps, 10*time.Second)
			}
			steps = append(steps, -30*time.Minute, time.Nanosecond)
			for _, d := range steps {
				now = now.Add(d)
				got := m.View(spec, nil, now).Window
				if diff := cmp.Diff(wins.State(now), got); diff != "" {
					t.Fatalf("Got(View(%v).Window) differs from cleanup's State (-want +got):\n%s", now, diff)
				}
			}
		})
	}
}

// TestPruneViewNewSpecNewWindows: a spec change takes its own windows at once.
func TestPruneViewNewSpecNewWindows(t *testing.T) {
	t.Parallel()
	open := []events.Window{{Schedule: "* * * * *", Duration: events.Duration(time.Minute)}}
	m, _ := newTestManager(t, func() time.Time { return t0 }, nil, 10)
	if got := m.View(&events.Spec{Images: orchtest.Images(), Cleanup: events.CleanupPolicy{Windows: open}}, nil, t0).Window.Open; !got {
		t.Fatalf("Got(View(%v).Window.Open) = %v, want true", t0, got)
	}
	closed := &events.Spec{Images: orchtest.Images(), Revision: 2, Cleanup: events.CleanupPolicy{Windows: []events.Window{{Schedule: "0 3 * * *", Duration: events.Duration(time.Hour)}}}}
	if got := m.View(closed, nil, t0.Add(time.Second)).Window; got.Open || !got.Opens.Equal(time.Date(2025, 3, 2, 3, 0, 0, 0, time.UTC)) {
		t.Errorf("Got(View after the spec change) = %+v, want closed until 2025-03-02T03:00Z", got)
	}
}

// BenchmarkPruneView is the window side of one pass, passes 10 ms apart
// under the simulation's always-open window ("* * * * *" for 1m): `kept`
// is View, `state` what it cost before, cleanup's State every pass.
func BenchmarkPruneView(b *testing.B) {
	ws := []events.Window{{Schedule: "* * * * *", Duration: events.Duration(time.Minute)}}
	now := t0
	spec := &events.Spec{Images: orchtest.Images(), Cleanup: events.CleanupPolicy{Windows: ws}}
	m, _ := newTestManager(b, func() time.Time { return now }, nil, 10)
	b.Run("kept", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.View(spec, nil, now)
			now = now.Add(10 * time.Millisecond)
		}
	})
	wins, err := cleanup.ParseWindows(ws)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("state", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			wins.State(now)
			now = now.Add(10 * time.Millisecond)
		}
	})
}
