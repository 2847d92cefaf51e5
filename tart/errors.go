package tart

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNotFound means the VM does not exist (tart exits 2, or says "does not exist").
var ErrNotFound = errors.New("VM does not exist")

// ErrRunning means the VM is running and tart refused the operation.
var ErrRunning = errors.New("VM is running")

// ErrTimeout means tart did not finish before the deadline and was killed.
var ErrTimeout = errors.New("tart timed out")

// ErrNotInstalled means no tart executable was found.
var ErrNotInstalled = errors.New("tart not found: install tart or set VMFLEET_TART / --tart")

// ErrBadOutput means tart's output could not be parsed.
var ErrBadOutput = errors.New("unparseable tart output")

// ErrInvalidName means a VM name or OCI reference was refused before reaching tart.
var ErrInvalidName = errors.New("invalid VM name or reference")

// ErrInvalidOption is wrapped by errors from options passed to New.
var ErrInvalidOption = errors.New("invalid option")

// Error is a failed tart invocation. It unwraps to one of the sentinels above
// (Kind) when the failure was classified.
type Error struct {
	// Args are tart's arguments (without the executable).
	Args []string
	// ExitCode is tart's exit status; 0 when it did not exit by itself (not
	// started, killed at the deadline) or exited 0 with unusable output.
	ExitCode int
	// Stderr is what tart said about the failure: its stderr, or its stdout
	// when stderr was empty (tart 1.x printed errors on stdout). Bounded.
	Stderr string
	// Kind is the classified cause (ErrNotFound, ErrRunning, ErrExists,
	// ErrTimeout, ErrNotInstalled, ErrBadOutput, ErrInvalidName) or nil.
	Kind error
	// Err is the underlying error (exec, parse), if any.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tart %s", strings.Join(e.Args, " "))
	if e.ExitCode > 0 {
		fmt.Fprintf(&b, ": exit %d", e.ExitCode)
	}
	if e.Kind != nil {
		fmt.Fprintf(&b, ": %v", e.Kind)
	}
	if s := firstLine(e.Stderr); s != "" {
		if len(s) > 512 {
			s = s[:512] + "…"
		}
		fmt.Fprintf(&b, ": %s", s)
	}
	if e.Err != nil && (e.Kind == nil || e.Err.Error() != e.Kind.Error()) {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// firstLine returns the first non-blank line of tart's message (the rest is
// usage text or detail, kept in Stderr).
func firstLine(s string) string {
	for line := range strings.Lines(s) {
		if line = strings.TrimSpace(line); line != "" {
			return line
		}
	}
	return ""
}

// Unwrap returns the classified cause and the underlying error.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// ErrExists means the target name of a clone or rename is taken.
var ErrExists = errors.New("VM already exists")
