// Package gobuild compiles Go commands — this module's own or ones from its
// dependencies, at the versions go.mod pins — into executables for
// process-level tests and benchmarks (the fake tart and buildkite-agent, the
// vmfleet binary, nats-server). It needs the go command in PATH, which
// `go test` provides. It is test and bench plumbing; vmfleet's commands never
// build anything at run time except `vmfleet bench agent`.
package gobuild

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// dirPrefix names the temporary directories builds go to.
const dirPrefix = "vmfleet-gobuild-"

type result struct {
	once sync.Once
	path string
	err  error
}

var (
	mu     sync.Mutex
	builds = map[string]*result{}
)

// Build compiles the package with import path pkg into an executable named
// name and returns its path. Each (pkg, name) is built once per process; the
// file lives in a temporary directory that outlives the process (nothing runs
// at exit), and directories left by runs over a day old are removed on the
// next build.
func Build(pkg, name string) (string, error) {
	mu.Lock()
	r, ok := builds[pkg+"\x00"+name]
	if !ok {
		r = &result{}
		builds[pkg+"\x00"+name] = r
	}
	mu.Unlock()
	r.once.Do(func() { r.path, r.err = build(pkg, name) })
	return r.path, r.err
}

func build(pkg, name string) (string, error) {
	sweepStale(24 * time.Hour)
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("build %s: the go command is not in PATH: %w", pkg, err)
	}
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, name)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", out, pkg)
	// Build from this package's directory so the module (and its go.mod
	// versions) is found whatever the caller's working directory.
	if _, file, _, ok := runtime.Caller(0); ok {
		if st, err := os.Stat(filepath.Dir(file)); err == nil && st.IsDir() {
			cmd.Dir = filepath.Dir(file)
		}
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, strings.TrimSpace(string(b)))
	}
	return out, nil
}

// sweepStale removes build directories older than age.
func sweepStale(age time.Duration) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, d := range dirs {
		if st, err := os.Stat(d); err == nil && st.IsDir() && time.Since(st.ModTime()) > age {
			_ = os.RemoveAll(d)
		}
	}
}
