//go:build darwin || linux || freebsd || netbsd || openbsd || dragonfly

package tart

import (
	"os/exec"
	"syscall"
)

// killGroupOnCancel runs tart in its own process group and, when the context
// ends, kills the whole group, so helpers tart started (e.g. a decompressor
// during pull) die with it instead of holding its output open.
func killGroupOnCancel(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
}
