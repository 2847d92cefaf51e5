package cleanup

import (
	"fmt"
	"strings"

	"github.com/vmfleet/vmfleet/events"
)

// GiB is the bytes counted per GB of a VM's size: tart reports whole GB, so
// a GiB per GB errs on the side of room.
const GiB = 1 << 30

// RoomNeeded estimates the bytes a new image takes on a host holding vms:
// the size there of the local image it replaces (replaces: the name of the
// same release's image in the spec in force; "" when the release is new),
// else the largest VM the host holds (0: nothing to go by).
func RoomNeeded(replaces string, vms []events.VM) int64 {
	largest := 0
	for _, v := range vms {
		if replaces != "" && v.Name == replaces && v.SizeGB > 0 && strings.EqualFold(v.Source, sourceLocal) {
			return int64(v.SizeGB) * GiB
		}
		largest = max(largest, v.SizeGB)
	}
	return int64(largest) * GiB
}

// Fits reports whether need bytes fit on disk leaving reserve free (the
// cleanup policy's disk emergency threshold: making an image must not open
// a disk emergency). Unknown disk or size: it fits (nothing to refuse on).
func Fits(disk *events.Disk, need, reserve int64) bool {
	return disk == nil || disk.TotalBytes <= 0 || need <= 0 || disk.FreeBytes >= need+reserve
}

// Shortfall says why need bytes do not fit on disk (Fits false), e.g.
// "needs about 21.5 GB, 10.0 GB free".
func Shortfall(disk *events.Disk, need, reserve int64) string {
	detail := fmt.Sprintf("needs about %.1f GB, %.1f GB free", float64(need)/1e9, float64(disk.FreeBytes)/1e9)
	if reserve > 0 {
		detail += fmt.Sprintf(" (keeping %.1f GB free for the disk emergency threshold)", float64(reserve)/1e9)
	}
	return detail
}
