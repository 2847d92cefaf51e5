package events

import (
	"fmt"
	"time"
)

// Reason says why a release is, or is not, ready on a host (docs/agent.md).
type Reason string

// Reason codes.
const (
	ReasonReady             Reason = "ready"
	ReasonImageMissing      Reason = "image_missing"
	ReasonBootstrapMismatch Reason = "bootstrap_mismatch"
	ReasonTartError         Reason = "tart_error"
	ReasonForcedReady       Reason = "forced_ready"
	ReasonForcedNotReady    Reason = "forced_not_ready"
	// ReasonNoSpace is used only in HostHealth.Staged: the staged image is
	// missing and would not fit on the disk beside the current images, so
	// the host gets it after promotion (a staged image never makes a
	// current one go).
	ReasonNoSpace Reason = "no_space"
)

// ForcedState is an operator's override of readiness.
type ForcedState string

// Forced states.
const (
	ForcedReady    ForcedState = "ready"
	ForcedNotReady ForcedState = "not_ready"
)

// Forced is an override in force on a host.
type Forced struct {
	State ForcedState `json:"state"`
	SetAt time.Time   `json:"set_at"`
	// Until is zero when the override has no TTL.
	Until  time.Time `json:"until,omitzero"`
	SetBy  string    `json:"set_by,omitempty"`
	Reason string    `json:"reason,omitempty"`
}

// Active reports whether the override is in force at now.
func (f *Forced) Active(now time.Time) bool {
	return f != nil && (f.Until.IsZero() || now.Before(f.Until))
}

// VM states as tart reports them.
const (
	VMRunning   = "running"
	VMStopped   = "stopped"
	VMSuspended = "suspended"
)

// VM is one entry of a host's tart inventory, normalised across tart versions.
type VM struct {
	Name string `json:"name"`
	// Source is "local" or "oci" (lower case whatever tart printed).
	Source string `json:"source"`
	// State is running, stopped or suspended ("" when tart did not say).
	State string `json:"state"`
	// DiskGB is the VM's disk size, SizeGB its size on disk, as tart reports them (GB).
	DiskGB int `json:"disk_gb"`
	SizeGB int `json:"size_gb"`
	// Accessed is when the VM was last used (tart 2.31+), zero when unknown.
	Accessed time.Time `json:"accessed,omitzero"`
}

// Busy reports whether the VM is running or suspended, which no rule may delete.
func (v VM) Busy() bool { return v.State == VMRunning || v.State == VMSuspended }

// ReleaseStatus is one release's readiness on a host.
type ReleaseStatus struct {
	Release       string `json:"release"`
	ExpectedImage string `json:"expected_image"`
	Ready         bool   `json:"ready"`
	Reason        Reason `json:"reason"`
	// Detail explains the reason for people (e.g. tart's error, the image found instead).
	Detail    string `json:"detail,omitempty"`
	Bun       string `json:"bun"`
	Bootstrap string `json:"bootstrap"`
}

// Disk is the free and total space of the filesystem holding $TART_HOME.
type Disk struct {
	Path       string `json:"path"`
	FreeBytes  int64  `json:"free_bytes"`
	TotalBytes int64  `json:"total_bytes"`
}

// HostHealth is what an agent publishes on <prefix>.host.<host>.health.
type HostHealth struct {
	// Host is the host token; it must equal the subject's host token.
	Host string `json:"host"`
	// Hostname is the machine's own name, before sanitising.
	Hostname string `json:"hostname,omitempty"`
	Agent    string `json:"agent"`
	BootID   string `json:"boot_id"`
	Seq      uint64 `json:"seq"`
	// CheckedAt is when tart was last asked.
	CheckedAt time.Time `json:"checked_at"`
	// HeartbeatSeconds is the agent's publish interval; a host silent for three is stale.
	HeartbeatSeconds int             `json:"heartbeat_seconds"`
	TartVersion      string          `json:"tart_version,omitempty"`
	Ready            bool            `json:"ready"`
	Releases         []ReleaseStatus `json:"releases"`
	VMs              []VM            `json:"vms"`
	Disk             *Disk           `json:"disk,omitempty"`
	Forced           *Forced         `json:"forced,omitempty"`
	// TartError is the cause when tart failed; every release then has reason tart_error.
	TartError string `json:"tart_error,omitempty"`
	// BuildkiteTags are the tags the agent applied to its buildkite-agent.
	BuildkiteTags []string `json:"buildkite_tags,omitempty"`
	// Queue is the Buildkite queue the host serves, when known.
	Queue string `json:"queue,omitempty"`
	// SpecRevision is the KV revision of the spec checked against (0: local config).
	SpecRevision uint64 `json:"spec_revision,omitempty"`
	// Staged is, per release of the staged spec (KV key NextSpecKey), the
	// host's status of the staged image: ready, image_missing, no_space or
	// tart_error. Empty when no rollout is in progress. Forced states never
	// apply to it.
	Staged []ReleaseStatus `json:"staged,omitempty"`
	// NextRevision is the KV revision of the staged spec Staged was checked
	// against (0: none).
	NextRevision uint64 `json:"next_revision,omitempty"`
}

// Validate checks a health payload.
func (h HostHealth) Validate() error {
	switch {
	case !ValidToken(h.Host):
		return fieldErr("host", fmt.Sprintf("%q is not a host token", h.Host))
	case h.BootID == "":
		return fieldErr("boot_id", "missing")
	case h.CheckedAt.IsZero():
		return fieldErr("checked_at", "missing")
	case h.HeartbeatSeconds < 0:
		return fieldErr("heartbeat_seconds", "negative")
	}
	for i, r := range h.Releases {
		if !validValue(r.Release) {
			return fieldErr(fmt.Sprintf("releases[%d].release", i), fmt.Sprintf("%q is not a release", r.Release))
		}
		// A reason this version does not know (a newer agent's) passes:
		// it means not ready (DemoteUnknownReasons).
		if !r.Reason.WellFormed() {
			return fieldErr(fmt.Sprintf("releases[%d].reason", i), fmt.Sprintf("%q is not a reason (1 to 64 lower-case letters, digits or '_')", r.Reason))
		}
	}
	if err := validateStaged(h.Staged); err != nil {
		return err
	}
	for i, v := range h.VMs {
		if v.Name == "" {
			return fieldErr(fmt.Sprintf("vms[%d].name", i), "missing")
		}
	}
	return nil
}

// DemoteUnknownReasons makes every release whose reason this version does
// not know (a newer agent's) not ready, and then the host too; it returns
// how many it found.
func (h *HostHealth) DemoteUnknownReasons() int {
	n := 0
	for i := range h.Releases {
		if !h.Releases[i].Reason.Valid() {
			h.Releases[i].Ready = false
			n++
		}
	}
	if n > 0 {
		h.Ready = false
	}
	return n
}

// Release returns the status of release r, if the host reports it.
func (h HostHealth) Release(r string) (ReleaseStatus, bool) {
	for _, s := range h.Releases {
		if s.Release == r {
			return s, true
		}
	}
	return ReleaseStatus{}, false
}

// MsgID is the JetStream de-duplication id of this health event (host/boot/seq).
func (h HostHealth) MsgID() string { return fmt.Sprintf("%s/%s/%d", h.Host, h.BootID, h.Seq) }
