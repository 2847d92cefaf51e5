package agentd

import (
	"fmt"

	"github.com/vmfleet/vmfleet/events"
)

// WithDisk replaces the measure of the disk holding $TART_HOME (default:
// statfs of the filesystem; nil result: cannot tell). The disk is what a
// check reports in HostHealth.Disk and what decides whether a staged image
// fits beside the current ones (no_space). For simulated hosts (package
// fleetsim), whose images live in an in-memory tart and whose disk is
// therefore simulated too; a real agent measures its filesystem.
func WithDisk(measure func(path string) *events.Disk) Option {
	return func(a *Agent) error {
		if measure == nil {
			return fmt.Errorf("%w: nil disk measure", ErrInvalidOption)
		}
		a.disk = measure
		return nil
	}
}
