package tarttest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	faketartPkg = "github.com/vmfleet/vmfleet/tart/tarttest/faketart"
	buildPrefix = "vmfleet-faketart-"
)

var built struct {
	once sync.Once
	path string
	err  error
}

// BuildExecutable compiles the fake tart executable (tart/tarttest/faketart)
// once per test binary and returns its path; the file is named "tart". Point
// it at a state directory with NewState(...).Env(). It needs the go command,
// which `go test` puts first in PATH.
//
// The binary lives in a temporary directory that outlives the test binary
// (nothing runs at its exit); directories left by runs over a day old are
// removed on the next build.
func BuildExecutable(t testing.TB) string {
	t.Helper()
	built.once.Do(func() { built.path, built.err = buildFake() })
	if built.err != nil {
		t.Fatalf("build fake tart: %v", built.err)
	}
	return built.path
}

func buildFake() (string, error) {
	sweepStale(24 * time.Hour)
	dir, err := os.MkdirTemp("", buildPrefix)
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "tart")
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("go command not in PATH: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", out, faketartPkg)
	// Build from this package's directory so the module is found whatever the
	// caller's working directory (falls back to it under -trimpath).
	if _, file, _, ok := runtime.Caller(0); ok {
		if st, err := os.Stat(filepath.Dir(file)); err == nil && st.IsDir() {
			cmd.Dir = filepath.Dir(file)
		}
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", faketartPkg, err, strings.TrimSpace(string(b)))
	}
	return out, nil
}

// sweepStale removes fake tart builds older than age.
func sweepStale(age time.Duration) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), buildPrefix+"*"))
	for _, d := range dirs {
		if st, err := os.Stat(d); err == nil && st.IsDir() && time.Since(st.ModTime()) > age {
			os.RemoveAll(d)
		}
	}
}
