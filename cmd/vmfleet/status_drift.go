package main

import (
	"time"

	"github.com/vmfleet/vmfleet/orchestrator/api"
)

// stateCell is a host's state, marked when the pause lever holds its agents.
func stateCell(h api.HostView) string {
	if h.Paused {
		return h.State + " (paused)"
	}
	return h.State
}

// driftCell says whether the host's Buildkite agent tags disagree with its
// report: "-", or the reason and for how long.
func driftCell(now time.Time, h api.HostView) string {
	if !h.Drift || h.DriftSince == nil {
		return "-"
	}
	d := now.Sub(*h.DriftSince).Round(time.Second)
	if d < 0 {
		d = 0
	}
	return string(h.DriftReason) + " " + d.String()
}
