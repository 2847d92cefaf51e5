//go:build !unix

package bkagent

import "os/exec"

// ownProcessGroup keeps the default where process groups do not exist.
func ownProcessGroup(*exec.Cmd) {}
