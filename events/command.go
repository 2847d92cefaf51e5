package events

import (
	"fmt"
	"strings"
	"time"
)

// Command verbs served by an agent on <prefix>.cmd.<host>.<verb> (a verb's
// name, its request type and the request's validation live in this file).
const (
	VerbCheck = "check"
	VerbPrune = "prune"
	VerbPull  = "pull"
	VerbForce = "force"
)

// Verbs lists every command verb an agent serves.
var Verbs = []string{VerbCheck, VerbPrune, VerbPull, VerbForce}

// CheckRequest asks an agent to check now and reply with its health.
type CheckRequest struct{}

// Validate always succeeds.
func (CheckRequest) Validate() error { return nil }

// PruneRequest asks an agent to delete the named VMs, re-checking every rule
// against its live inventory first.
type PruneRequest struct {
	VMs    []string `json:"vms"`
	Reason string   `json:"reason,omitempty"`
	DryRun bool     `json:"dry_run,omitempty"`
	// Now marks an operator's prune outside any cleanup window.
	Now bool `json:"now,omitempty"`
	// DiskEmergency lets the agent prune before a replacement is ready
	// (never a busy or expected VM).
	DiskEmergency bool `json:"disk_emergency,omitempty"`
}

// Validate checks a prune request.
func (p PruneRequest) Validate() error {
	if len(p.VMs) == 0 {
		return fieldErr("vms", "at least one VM name is required")
	}
	for i, n := range p.VMs {
		if err := ValidateVMName(n); err != nil {
			return fieldErr(fmt.Sprintf("vms[%d]", i), err.Error())
		}
	}
	return nil
}

// Prune request reasons (PruneRequest.Reason): why the orchestrator asked.
const (
	PruneReasonWindow    = "cleanup_window"
	PruneReasonEmergency = "disk_emergency"
	PruneReasonOperator  = "operator"
)

// PullRequest asks an agent to clone an image from a registry to a local name.
type PullRequest struct {
	Source string `json:"source"`
	Name   string `json:"name"`
}

// Validate checks a pull request.
func (p PullRequest) Validate() error {
	if err := ValidateOCIRef(p.Source); err != nil {
		return fieldErr("source", err.Error())
	}
	if err := ValidateVMName(p.Name); err != nil {
		return fieldErr("name", err.Error())
	}
	return nil
}

// ForceRequest sets or clears a forced readiness state.
type ForceRequest struct {
	// State is ready or not_ready; ignored when Clear is set.
	State ForcedState `json:"state,omitempty"`
	TTL   Duration    `json:"ttl,omitempty"`
	Clear bool        `json:"clear,omitempty"`
	By    string      `json:"by,omitempty"`
	// Reason says why, kept in the forced state (Forced.Reason).
	Reason string `json:"reason,omitempty"`
}

// Validate checks a force request.
func (f ForceRequest) Validate() error {
	if f.Clear {
		return nil
	}
	if f.State != ForcedReady && f.State != ForcedNotReady {
		return fieldErr("state", fmt.Sprintf("%q, want %q or %q", f.State, ForcedReady, ForcedNotReady))
	}
	if f.TTL < 0 {
		return fieldErr("ttl", "negative")
	}
	return nil
}

// Reply is an agent's answer to any command.
type Reply struct {
	OK bool `json:"ok"`
	// Error says what went wrong; Code classifies it (bad_request, busy, tart_error, internal).
	Error  string         `json:"error,omitempty"`
	Code   string         `json:"code,omitempty"`
	Health *HostHealth    `json:"health,omitempty"`
	Prune  []PruneOutcome `json:"prune,omitempty"`
	At     time.Time      `json:"at"`
}

// Validate always succeeds: a reply carries its own error.
func (Reply) Validate() error { return nil }

// Reply error codes.
const (
	CodeBadRequest = "bad_request"
	CodeBusy       = "busy"
	CodeTartError  = "tart_error"
	CodeInternal   = "internal"
	// CodeNoSpace answers a pull of a staged image that would not fit on
	// the disk beside the current images (the reply's health says
	// no_space for that release in Staged).
	CodeNoSpace = "no_space"
)

// ValidateVMName checks a name before it reaches tart: 1–128 bytes of
// [A-Za-z0-9._+-], not starting with '-' or '.'.
func ValidateVMName(n string) error {
	if n == "" || len(n) > 128 {
		return fmt.Errorf("VM name %q: must be 1 to 128 characters", n)
	}
	if n[0] == '-' || n[0] == '.' {
		return fmt.Errorf("VM name %q: must not start with '-' or '.'", n)
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' || c == '+') {
			return fmt.Errorf("VM name %q: only letters, digits, '.', '_', '+' and '-' are allowed", n)
		}
	}
	return nil
}

// ValidateOCIRef checks a registry reference before it reaches tart.
func ValidateOCIRef(r string) error {
	if r == "" || len(r) > 512 {
		return fmt.Errorf("OCI reference %q: must be 1 to 512 characters", r)
	}
	if r[0] == '-' {
		return fmt.Errorf("OCI reference %q: must not start with '-'", r)
	}
	for i := 0; i < len(r); i++ {
		c := r[i]
		if !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' || c == '/' || c == ':' || c == '@' || c == '+') {
			return fmt.Errorf("OCI reference %q: invalid character %q", r, c)
		}
	}
	// A reference is [host[:port]/]path[:tag][@digest]: no URL scheme, and
	// no empty, "." or ".." path component (tart would read those as paths).
	name, _, _ := strings.Cut(r, "@")
	if strings.Contains(name, "://") {
		return fmt.Errorf("OCI reference %q: a registry reference, not a URL (no scheme)", r)
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" || part == "." || part == ".." || strings.HasPrefix(part, ".") {
			return fmt.Errorf("OCI reference %q: empty, '.' or '..' path component", r)
		}
	}
	return nil
}
