package prunes

import (
	"fmt"

	"github.com/vmfleet/vmfleet/events"
)

// Failure says why a prune counts as failed, or "" when every requested
// VM is gone: a command error, a failed delete, or a VM the agent kept.
func Failure(rep events.Reply, err error) string {
	switch {
	case err != nil:
		return err.Error()
	case !rep.OK:
		return fmt.Sprintf("%s (%s)", rep.Error, rep.Code)
	}
	for _, o := range rep.Prune {
		switch {
		case o.Result == events.PruneFailed:
			return fmt.Sprintf("delete %s: %s", o.VM, o.Reason)
		case o.Result == events.PruneSkipped && o.Reason != events.PruneReasonGone:
			return fmt.Sprintf("%s kept by the agent: %s", o.VM, o.Reason)
		}
	}
	return ""
}
