package tart

import "strings"

// classify maps a failed tart invocation to a sentinel, or nil when the
// failure is not one callers act on. It is the only place that reads tart's
// messages; everything else uses errors.Is on the result.
//
// Evidence (tart sources, see testdata/README.md):
//   - RuntimeError.VMDoesNotExist: `the specified VM "NAME" does not exist`,
//     exit 2 (tart delete uses it since cirruslabs/tart#910; before, delete of a
//     missing VM said "failed to open lock file …: No such file or directory",
//     exit 1).
//   - RuntimeError.VMIsRunning: `VM "NAME" is running`, exit 1 (delete since
//     cirruslabs/tart#676; clone/rename onto a running VM in recent versions).
//   - RuntimeError.VMNotRunning / VMAlreadyRunning also exit 2: "is not
//     running" must not read as ErrRunning nor, through the exit code, as
//     ErrNotFound.
//   - rename: ValidationError (exit 64) "failed to rename a non-existent local
//     VM: NAME" / "target VM NAME already exists, delete it first!".
//   - old get/delete of a missing VM: "UninitializedVMDirectoryError()".
func classify(op Op, exitCode int, msg string) error {
	m := strings.ToLower(msg)
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(m, s) {
				return true
			}
		}
		return false
	}
	switch {
	case has("is not running"):
		return nil
	case has("does not exist", "non-existent", "uninitializedvmdirectoryerror"):
		return ErrNotFound
	case has("is running", "already running"):
		return ErrRunning
	case has("already exists", "already initialized"):
		return ErrExists
	case op == OpDelete && has("no such file or directory"):
		return ErrNotFound
	case exitCode == 2 && op != OpList && op != OpVersion && op != OpPull:
		return ErrNotFound
	}
	return nil
}
