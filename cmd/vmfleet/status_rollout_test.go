package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

func TestPrintHostsRollout(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	ro := &events.Rollout{NextRevision: 12, Hosts: 10, Ready: 4, AutoPromote: 0.9, AutoPromoteHosts: 9, NoSpace: 1,
		StagedAt: now.Add(-14 * time.Minute), Changes: []events.SpecFieldChange{{Field: "bootstrap", From: "3.6", To: "3.7"}},
		Releases: []events.StagedReadiness{
			{Release: "13", Image: "img-13-3.7", Ready: 5, NoSpace: 1, Total: 10, Builds: 0, Pulls: 2},
			{Release: "14", Image: "img-14-3.7", Ready: 4, NoSpace: 1, Total: 10, Builds: 1, Pulls: 0},
		},
		ETA: &events.RolloutETA{Basis: events.ETARate, Target: 9, At: now.Add(150 * time.Second), HostsPerHour: 120,
			Why: "5 hosts to go at the rate seen within the last 10m"}}
	resp := api.HostsResponse{Hosts: []orchestrator.HostView{{Host: "mac-01", State: "ready", LastSeen: now.Add(-12 * time.Second),
		Releases: []events.ReleaseStatus{{Release: "14", Ready: true, Reason: events.ReasonReady}},
		Staged:   []events.ReleaseStatus{{Release: "13", Ready: true, Reason: events.ReasonReady}, {Release: "14", Reason: events.ReasonNoSpace}}}},
		Readiness: &events.FleetReadiness{Hosts: 10, Ready: 10, Rollout: ro}}
	var b strings.Builder
	if err := printHosts(&b, resp, now); err != nil {
		t.Fatal(err)
	}
	want := `HOST    STATE  MACOS 14  REASON               DRIFT  LAST SEEN
mac-01  ready  ready     staged 14: no_space  -      12s ago

10 hosts: 10 ready, 0 stale
rollout: staged revision 12, staged 14m0s ago: bootstrap 3.6 → 3.7
  4 of 10 hosts hold every staged image; 1 without room for one (no_space: they get it after promotion)
  auto-promote at 90%: 9 of 10 hosts, 5 to go
  ETA 12:02 UTC (in 2m30s) for 9 hosts: 5 hosts to go at the rate seen within the last 10m, 120.0 hosts/h
  macOS 13  img-13-3.7  5/10 hosts  [##########..........]  1 no space  0 builds, 2 pulls in flight
  macOS 14  img-14-3.7  4/10 hosts  [########............]  1 no space  1 builds, 0 pulls in flight
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("Got(status with a rollout) diff (-want +got):\n%s", diff)
	}
}

func TestRolloutLines(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name string
		got  string
		want string
	}{
		{"by hand", promoteLine(&events.Rollout{Hosts: 3}), "promote by hand: vmfleet spec promote"},
		{"threshold reached", promoteLine(&events.Rollout{Hosts: 3, Ready: 3, AutoPromote: 0.875, AutoPromoteHosts: 3}),
			"auto-promote at 87.5%: 3 of 3 hosts, reached: promoting"},
		{"build", etaLine(events.RolloutETA{Basis: events.ETABuild, At: now.Add(31 * time.Minute), Why: "w"}, now),
			"ETA of the first hosts 12:31 UTC (in 31m0s): w"},
		{"unknown", etaLine(events.RolloutETA{Basis: events.ETAUnknown, Why: "no build or pull of a staged image in flight"}, now),
			"ETA unknown: no build or pull of a staged image in flight"},
		{"done", etaLine(events.RolloutETA{Basis: events.ETADone, Why: "9 of 10 hosts hold every staged image"}, now),
			"target reached: 9 of 10 hosts hold every staged image"},
		{"registry removed", changesLine([]events.SpecFieldChange{{Field: "registry", From: "ghcr.io/a", To: ""}, {Field: "bun", From: "1.2.16", To: "1.2.17"}}),
			"registry ghcr.io/a → (none), bun 1.2.16 → 1.2.17"},
		{"bar of nothing", bar(0, 0, 4), "[....]"},
	} {
		if tt.got != tt.want {
			t.Errorf("Got(%s) = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}
