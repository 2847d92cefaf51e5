package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitOutput(t *testing.T, out *syncBuffer, what string, cond func(string) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond(out.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; output:\n%s", what, out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStatusWatchRedraws(t *testing.T) {
	tests := []struct {
		name string
		json bool
		want []string
	}{
		{name: "table", want: []string{"Every 10ms: vmfleet status", "mac-01  not_ready", "error: GET /api/v1/hosts", "mac-01  ready"}},
		{name: "json lines", json: true, want: []string{`"state":"not_ready"`, `"error":"GET /api/v1/hosts`, `"state":"ready"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Each subtest has its own server and counter: a request still in
			// flight when a subtest ends cannot count toward the next one.
			var polls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := polls.Add(1)
				if n == 2 {
					http.Error(w, `{"error":"restarting"}`, http.StatusServiceUnavailable)
					return
				}
				state := orchestrator.HostNotReady
				if n >= 3 {
					state = orchestrator.HostReady
				}
				_ = json.NewEncoder(w).Encode(api.HostsResponse{Hosts: []orchestrator.HostView{{Host: "mac-01", State: state,
					LastSeen: time.Now(), Releases: []events.ReleaseStatus{{Release: "14", Ready: n >= 3, Reason: events.ReasonImageMissing}}}}})
			}))
			defer srv.Close() // waits for in-flight handlers before the next subtest
			ctx, cancel := context.WithCancel(context.Background())
			out := &syncBuffer{}
			done := make(chan error, 1)
			go func() { done <- watchStatus(ctx, newAPIClient(srv.URL, ""), out, 10*time.Millisecond, tt.json) }()
			waitOutput(t, out, "three polls", func(s string) bool { return polls.Load() >= 4 && strings.Contains(s, tt.want[len(tt.want)-1]) })
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Got(watchStatus) = %v, want nil after cancel", err)
			}
			got := out.String()
			last := -1
			for _, w := range tt.want {
				i := strings.Index(got, w)
				if i < 0 || i < last {
					t.Fatalf("Got(output) lacks %q in order; output:\n%s", w, got)
				}
				last = i
			}
			if strings.Contains(got, "\x1b[") {
				t.Errorf("Got(output) has escape codes, want none off a terminal")
			}
		})
	}
}
