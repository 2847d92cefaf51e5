package prunes

import (
	"context"
	"fmt"

	"github.com/vmfleet/vmfleet/cleanup"
	"github.com/vmfleet/vmfleet/events"
)

// HostRequest is POST /api/v1/hosts/{host}/prune: an operator's
// `vmfleet prune --host H`.
type HostRequest struct {
	// DryRun: the agent reports what it would delete, deleting nothing.
	DryRun bool `json:"dry_run,omitempty"`
	// Now prunes outside the cleanup windows (`--now`).
	Now bool `json:"now,omitempty"`
	// VMs, when set, restricts the prune to these names.
	VMs []string `json:"vms,omitempty"`
}

// HostResponse is the answer: the orchestrator's plan and, when it pruned
// something, the agent's outcome for every VM it was asked about.
type HostResponse struct {
	Host   string              `json:"host"`
	Plan   cleanup.Result      `json:"plan"`
	Window cleanup.WindowState `json:"window"`
	// Sent: a prune command went to the agent (the plan pruned something).
	Sent     bool                  `json:"sent"`
	Outcomes []events.PruneOutcome `json:"outcomes,omitempty"`
	// Error and Code are the agent's, when its reply was not OK.
	Error string `json:"error,omitempty"`
	Code  string `json:"code,omitempty"`
}

// CheckRequest refuses a request naming a VM that no agent would accept.
func CheckRequest(req HostRequest) error {
	for i, n := range req.VMs {
		if err := events.ValidateVMName(n); err != nil {
			return &events.FieldError{Field: fmt.Sprintf("vms[%d]", i), Reason: err.Error()}
		}
	}
	return nil
}

// Host plans an operator's prune of host now, from its last report h, in
// the view pv, and sends it when the plan prunes something; it waits for the
// agent's reply. Outside a cleanup window only req.Now (or a disk
// emergency) lets anything go. The caller checked the request
// (CheckRequest) and that the host is known and not stale.
func (m *Manager) Host(ctx context.Context, host string, h *events.HostHealth, pv *View, req HostRequest) (HostResponse, error) {
	in := Input(h, pv)
	in.PruneNow = req.Now
	if len(req.VMs) > 0 {
		in.Only = req.VMs
	}
	resp := HostResponse{Host: host, Plan: cleanup.Plan(in), Window: pv.Window}
	if len(resp.Plan.Prune) == 0 {
		return resp, nil
	}
	preq := events.PruneRequest{VMs: resp.Plan.PruneNames(), Reason: events.PruneReasonOperator, DryRun: req.DryRun,
		Now: req.Now, DiskEmergency: resp.Plan.DiskEmergency}
	rep, err := m.run(ctx, host, h.BootID, h.Seq, preq)
	if err != nil {
		return resp, err
	}
	resp.Sent, resp.Outcomes = true, rep.Prune
	if !rep.OK {
		resp.Error, resp.Code = rep.Error, rep.Code
	}
	return resp, nil
}

// HostView is a host's cleanup in GET /api/v1/hosts/{host}: the plan for
// its last report now, the windows, the prune in flight or backing off,
// and its recent outcomes.
type HostView struct {
	// Plan is every VM's verdict: pruned (with the candidate reason) or
	// kept (with the protecting rule).
	Plan cleanup.Result `json:"plan"`
	// Window: open now and until when, or when the next window opens.
	Window cleanup.WindowState   `json:"window"`
	Status Status                `json:"status"`
	Recent []events.PruneOutcome `json:"recent,omitempty"`
}

// HostView computes a host's cleanup view in pv from its last report h (on
// demand, off the loop).
func (m *Manager) HostView(host string, h *events.HostHealth, pv *View) *HostView {
	return &HostView{Plan: cleanup.Plan(Input(h, pv)), Window: pv.Window, Status: m.status(host), Recent: m.out.Host(host)}
}
