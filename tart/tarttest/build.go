package tarttest

import (
	"testing"

	"github.com/vmfleet/vmfleet/internal/gobuild"
)

const faketartPkg = "github.com/vmfleet/vmfleet/tart/tarttest/faketart"

// BuildExecutable compiles the fake tart executable (tart/tarttest/faketart)
// once per test binary and returns its path; the file is named "tart". Point
// it at a state directory with NewState(...).Env(). It needs the go command,
// which `go test` puts first in PATH.
func BuildExecutable(t testing.TB) string {
	t.Helper()
	path, err := gobuild.Build(faketartPkg, "tart")
	if err != nil {
		t.Fatalf("build fake tart: %v", err)
	}
	return path
}
