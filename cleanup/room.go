package cleanup

import (
	"fmt"
	"strings"

	"github.com/vmfleet/vmfleet/events"
)

// GiB is the bytes counted per GB of a VM's size: tart reports whole GB, so
// a GiB per GB errs on the side of room.
const GiB = 1 << 30

// RoomNeeded estimates the bytes a new image of release r takes on a host
// holding vms: the size of cur's image of the same release there (the image
// it replaces), else the largest VM the host holds (0: nothing to go by).
func RoomNeeded(cur events.ImageSpec, r string, vms []events.VM) int64 {
	if cur.HasRelease(r) {
		name := cur.ImageName(r)
		for _, v := range vms {
			if v.Name == name && strings.EqualFold(v.Source, sourceLocal) && v.SizeGB > 0 {
				return int64(v.SizeGB) * GiB
			}
		}
	}
	largest := 0
	for _, v := range vms {
		largest = max(largest, v.SizeGB)
	}
	return int64(largest) * GiB
}

// Fits reports whether need bytes fit on disk leaving reserve free (the
// cleanup policy's disk emergency threshold: making an image must not open
// a disk emergency); when they do not, detail says by how much, e.g.
// "needs about 21.5 GB, 10.0 GB free". Unknown disk or size: it fits
// (nothing to refuse on).
func Fits(disk *events.Disk, need, reserve int64) (ok bool, detail string) {
	if disk == nil || disk.TotalBytes <= 0 || need <= 0 {
		return true, ""
	}
	if disk.FreeBytes >= need+reserve {
		return true, ""
	}
	detail = fmt.Sprintf("needs about %.1f GB, %.1f GB free", float64(need)/1e9, float64(disk.FreeBytes)/1e9)
	if reserve > 0 {
		detail += fmt.Sprintf(" (keeping %.1f GB free for the disk emergency threshold)", float64(reserve)/1e9)
	}
	return false, detail
}
