//go:build unix

package bkagent

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup starts the child in a process group of its own.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
