package tart

import "time"

// Info is what `tart get --format json` says about one VM.
type Info struct {
	CPU      int       `json:"cpu"`
	Memory   int       `json:"memory"`
	DiskGB   int       `json:"disk_gb"`
	SizeGB   int       `json:"size_gb"`
	Display  string    `json:"display,omitempty"`
	State    string    `json:"state"`
	OS       string    `json:"os,omitempty"`
	Accessed time.Time `json:"accessed,omitzero"`
}
