package main

import (
	"testing"

	"github.com/vmfleet/vmfleet/orchestrator/api"
)

// TestWaitShort: the fleet table says which cap a queued build or pull
// waits behind, and, for a pull held by its host, the host's pull it waits
// for.
func TestWaitShort(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		wait *api.Wait
		want string
	}{
		{"nothing", nil, ""},
		{"pull behind the fleet cap", &api.Wait{Kind: api.WaitQueued, What: "pull", Cap: "pulls.max_concurrent", Position: 3, Of: 7},
			" (pull queued 3/7 behind pulls.max_concurrent)"},
		{"pull behind the host's other pull", &api.Wait{Kind: api.WaitQueued, What: "pull", Cap: "pulls.max_per_host", Position: 1, Of: 1, Behind: "macos-13"},
			" (pull queued 1/1 behind the host's pull of macos-13)"},
		{"build behind its host's cap", &api.Wait{Kind: api.WaitQueued, What: "build", Cap: "builds.max_per_host", Position: 1, Of: 2},
			" (build queued 1/2 behind builds.max_per_host)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cells := []api.Cell{{Release: "14", Wait: tt.wait}}
			if got := waitShort(cells, "14"); got != tt.want {
				t.Errorf("Got(waitShort) = %q, want %q", got, tt.want)
			}
		})
	}
}
