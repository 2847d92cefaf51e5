package main

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

func TestLeaderLine(t *testing.T) {
	tests := []struct {
		in   api.LeaderStatus
		want string
	}{
		{api.LeaderStatus{Instance: "a", IsLeader: true, Leader: "a"}, "leader: a (answered by the leader)"},
		{api.LeaderStatus{Instance: "b", Leader: "a"}, "leader: a (answered by follower b)"},
		{api.LeaderStatus{Instance: "b"}, "leader: none known (election under way; answered by b)"},
	}
	for _, tt := range tests {
		if got := leaderLine(tt.in); got != tt.want {
			t.Errorf("Got(leaderLine(%+v)) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDefaultInstanceIsAToken(t *testing.T) {
	got := defaultInstance()
	if !events.ValidToken(got) || !strings.HasSuffix(got, "-"+strconv.Itoa(os.Getpid())) {
		t.Errorf("Got(defaultInstance) = %q, want a token ending in the pid", got)
	}
}
