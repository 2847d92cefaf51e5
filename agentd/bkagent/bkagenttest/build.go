package bkagenttest

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
	fakePkg     = "github.com/vmfleet/vmfleet/agentd/bkagent/bkagenttest/fakeagent"
	buildPrefix = "vmfleet-fakebk-"
)

var built struct {
	once sync.Once
	path string
	err  error
}

// BuildExecutable compiles the fake (bkagenttest/fakeagent) once per test
// binary and returns its path; the file is named "buildkite-agent". Point it
// at a state directory with NewState(t).Env(). It needs the go command, which
// `go test` puts first in PATH. Builds over a day old are swept on the next.
func BuildExecutable(t testing.TB) string {
	t.Helper()
	built.once.Do(func() { built.path, built.err = buildFake() })
	if built.err != nil {
		t.Fatalf("build fake buildkite-agent: %v", built.err)
	}
	return built.path
}

func buildFake() (string, error) {
	sweepStale(24 * time.Hour)
	dir, err := os.MkdirTemp("", buildPrefix)
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "buildkite-agent")
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("go command not in PATH: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", out, fakePkg)
	// Build from this package's directory so the module is found whatever the
	// caller's working directory.
	if _, file, _, ok := runtime.Caller(0); ok {
		if st, err := os.Stat(filepath.Dir(file)); err == nil && st.IsDir() {
			cmd.Dir = filepath.Dir(file)
		}
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", fakePkg, err, strings.TrimSpace(string(b)))
	}
	return out, nil
}

func sweepStale(age time.Duration) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), buildPrefix+"*"))
	for _, d := range dirs {
		if st, err := os.Stat(d); err == nil && st.IsDir() && time.Since(st.ModTime()) > age {
			os.RemoveAll(d)
		}
	}
}
