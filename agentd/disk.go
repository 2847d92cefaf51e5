//go:build unix

package agentd

import (
	"os"
	"path/filepath"
	"syscall"

	"github.com/vmfleet/vmfleet/events"
)

// diskUsage measures the filesystem holding path (or its nearest existing
// ancestor, before tart created it). It returns nil when it cannot tell.
func diskUsage(path string) *events.Disk {
	var st syscall.Statfs_t
	// One statfs when path exists (every check but the first on a new
	// host); else walk up to the nearest directory that does.
	for p := path; syscall.Statfs(p, &st) != nil; {
		if _, err := os.Stat(p); err == nil {
			return nil // it exists, yet statfs fails: cannot tell
		}
		parent := filepath.Dir(p)
		if parent == p {
			return nil
		}
		p = parent
	}
	bs := int64(st.Bsize) // int64 on linux, uint32 on darwin
	return &events.Disk{Path: path, FreeBytes: int64(st.Bavail) * bs, TotalBytes: int64(st.Blocks) * bs}
}
