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
	p := path
	for {
		if _, err := os.Stat(p); err == nil {
			break
		}
		parent := filepath.Dir(p)
		if parent == p {
			return nil
		}
		p = parent
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(p, &st); err != nil {
		return nil
	}
	bs := int64(st.Bsize) // int64 on linux, uint32 on darwin
	return &events.Disk{Path: path, FreeBytes: int64(st.Bavail) * bs, TotalBytes: int64(st.Blocks) * bs}
}
