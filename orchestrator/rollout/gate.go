package rollout

import (
	"errors"
	"fmt"
	"strings"
)

// ErrConfirmNeeded means a change that needs an explicit confirmation (it
// removes a release, or makes too many hosts not ready) came without one:
// nothing was written. The error is a *PreviewError holding the preview.
var ErrConfirmNeeded = errors.New("this change needs an explicit confirmation")

// ErrDryRun means a dry run answered with the preview and wrote nothing;
// the error is a *PreviewError holding the preview.
var ErrDryRun = errors.New("dry run: nothing written")

// PreviewError is what a spec change returns instead of applying: the
// preview of a dry run (DryRun), or of a change that needs a confirmation
// and had none. It wraps ErrDryRun or ErrConfirmNeeded.
type PreviewError struct {
	Impact Impact
	DryRun bool
}

func (e *PreviewError) Error() string {
	if e.DryRun {
		return ErrDryRun.Error()
	}
	return fmt.Sprintf("refused: this change %s; nothing was written: confirm it to apply (API \"confirm\": true, vmfleet --yes)",
		strings.Join(e.Impact.Why, " and "))
}

func (e *PreviewError) Unwrap() error {
	if e.DryRun {
		return ErrDryRun
	}
	return ErrConfirmNeeded
}

// fleet is the snapshot a preview looks at (Ops.Fleet; an empty fleet
// without it).
func (p *Ops) fleet() Fleet {
	if p.Fleet == nil {
		return Fleet{Now: p.Now()}
	}
	return p.Fleet()
}

// gate previews change c over f (f.Current is the spec the change
// replaces) and logs the decision: a dry run returns the preview as a
// *PreviewError, so does a change that needs a confirmation without one;
// otherwise nil, and the caller applies the change.
func (p *Ops) gate(f Fleet, c Change, dryRun, confirm bool) error {
	im := Preview(f, c)
	decision := "apply"
	var err error
	switch {
	case dryRun:
		decision, err = "dry run", &PreviewError{Impact: im, DryRun: true}
	case im.ConfirmNeeded && !confirm:
		decision, err = "refused: confirmation needed", &PreviewError{Impact: im}
	case im.ConfirmNeeded:
		decision = "apply: confirmed"
	}
	p.Log.Info("spec change preview", "action", c.Action, "decision", decision, "confirm_needed", im.ConfirmNeeded,
		"why", strings.Join(im.Why, "; "), "hosts", im.Hosts, "not_ready_hosts", im.Total.NotReady, "not_ready_fraction", im.NotReadyFraction,
		"removed_releases", im.Removed, "builds_start", im.Total.BuildsStart, "builds_cancel", im.Total.BuildsCancel,
		"pulls", im.Total.Pulls, "no_space_hosts", im.Total.NoSpace, "prune_vms", im.Total.PruneVMs, "prune_gb", im.Total.PruneGB)
	return err
}
