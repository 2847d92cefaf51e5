package tart

import "time"

// Info is what `tart get --format json` says about one VM.
type Info struct {
	CPU int `json:"cpu"`
	// Memory is in MB.
	Memory int `json:"memory"`
	DiskGB int `json:"disk_gb"`
	// SizeGB is the space the VM takes on disk (tart 2.x; 0 when not reported).
	SizeGB  int    `json:"size_gb"`
	Display string `json:"display,omitempty"`
	// State is running, stopped, suspended, or "" when tart did not say.
	State string `json:"state"`
	// OS is darwin or linux (tart 2.x).
	OS string `json:"os,omitempty"`
	// DiskFormat is raw or asif (recent tart 2.x).
	DiskFormat string    `json:"disk_format,omitempty"`
	Accessed   time.Time `json:"accessed,omitzero"`
}
