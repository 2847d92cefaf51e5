//go:build !(darwin || linux || freebsd || netbsd || openbsd || dragonfly)

package tart

import "os/exec"

// killGroupOnCancel keeps exec.CommandContext's default: kill the process.
func killGroupOnCancel(*exec.Cmd) {}
