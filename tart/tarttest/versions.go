package tarttest

import (
	"strconv"
	"strings"
)

// Versions are the tart versions whose output the fake executable reproduces
// and tart/testdata holds golden files for: one per change of the list format.
var Versions = []string{"1.0.0", "1.2.0", "1.8.0", "2.11.0", "2.15.0", "2.30.0", "2.31.0", "2.35.0"}

// DefaultVersion is the version the fake reports when none is chosen.
const DefaultVersion = "2.35.0"

// features says what one tart version prints. The boundaries are those of
// tart/testdata/README.md: exact where a tart change is cited there,
// approximate otherwise.
type features struct {
	// running: list/get print "Running" (1.2+).
	running bool
	// state: list/get print "State" (1.8+).
	state bool
	// disk: list prints "Disk" (logical size) besides "Size" (allocated), and
	// Source "OCI" instead of "oci" (2.7+, cirruslabs/tart#742).
	disk bool
	// sizeOnDisk: list prints "SizeOnDisk" (2.15–2.30).
	sizeOnDisk bool
	// accessed: list prints "Accessed" (2.31+, cirruslabs/tart#1202).
	accessed bool
	// getSize: get prints "OS" and "Size" as a "%.3f" string (2.7+).
	getSize bool
	// getDiskFormat: get prints "DiskFormat" (2.28+).
	getDiskFormat bool
	// deleteRefusesRunning: delete fails with `VM "X" is running` (2.4+,
	// cirruslabs/tart#676); before, it deleted a running VM.
	deleteRefusesRunning bool
	// deleteMissingLockErr: delete of a missing VM fails with "failed to open
	// lock file …: No such file or directory", exit 1 (from #676 until #910,
	// 2.4–2.18); otherwise `the specified VM "X" does not exist`, exit 2.
	deleteMissingLockErr bool
	// stderr: errors go to stderr, with ArgumentParser's "Error: " prefix and
	// exit 64 for usage errors (2.0+); 1.x printed every error on stdout.
	stderr bool
}

func featuresOf(version string) features {
	v := parseVersion(version)
	return features{
		running:              v.atLeast(1, 2),
		state:                v.atLeast(1, 8),
		disk:                 v.atLeast(2, 7),
		sizeOnDisk:           v.atLeast(2, 15) && !v.atLeast(2, 31),
		accessed:             v.atLeast(2, 31),
		getSize:              v.atLeast(2, 7),
		getDiskFormat:        v.atLeast(2, 28),
		deleteRefusesRunning: v.atLeast(2, 4),
		deleteMissingLockErr: v.atLeast(2, 4) && !v.atLeast(2, 19),
		stderr:               v.atLeast(2, 0),
	}
}

type version struct{ major, minor int }

// parseVersion reads "MAJOR.MINOR[.PATCH]"; anything else (a development
// build) counts as the newest.
func parseVersion(s string) version {
	parts := strings.SplitN(strings.TrimPrefix(strings.TrimSpace(s), "v"), ".", 3)
	if len(parts) < 2 {
		return version{1 << 20, 0}
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return version{1 << 20, 0}
	}
	return version{major, minor}
}

func (v version) atLeast(major, minor int) bool {
	return v.major > major || (v.major == major && v.minor >= minor)
}
