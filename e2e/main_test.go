package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/tart/tarttest"
)

// bins are the executables under test, built once per test run.
var bins struct {
	once    sync.Once
	dir     string
	nats    string
	vmfleet string
	took    time.Duration
	err     error
}

// TestMain removes the binaries built for the run.
func TestMain(m *testing.M) {
	code := m.Run()
	if bins.dir != "" {
		_ = os.RemoveAll(bins.dir)
	}
	os.Exit(code)
}

// repoRoot is the module root: go test runs a package's tests in its
// directory, and this package sits at the root's first level.
func repoRoot() string {
	wd, err := os.Getwd()
	if err != nil {
		return ".."
	}
	return filepath.Dir(wd)
}

// binaries builds nats-server (the version go.mod pins) and vmfleet once,
// and the fake tart executable; it returns their paths.
func binaries(t *testing.T) (natsServer, vmfleet, tart string) {
	t.Helper()
	first := false
	bins.once.Do(func() {
		first = true
		if bins.dir, bins.err = os.MkdirTemp("", "vmfleet-e2e-"); bins.err != nil {
			return
		}
		bins.nats = filepath.Join(bins.dir, "nats-server")
		bins.vmfleet = filepath.Join(bins.dir, "vmfleet")
		for _, b := range [][2]string{{bins.nats, "github.com/nats-io/nats-server/v2"}, {bins.vmfleet, "./cmd/vmfleet"}} {
			if bins.err = goBuild(b[0], b[1]); bins.err != nil {
				return
			}
		}
	})
	if bins.err != nil {
		t.Fatal(bins.err)
	}
	if first {
		t.Logf("nats-server and vmfleet built in %s (once per run)", bins.took.Round(time.Millisecond))
	}
	return bins.nats, bins.vmfleet, tarttest.BuildExecutable(t)
}

func goBuild(out, pkg string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = repoRoot()
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, strings.TrimSpace(string(b)))
	}
	bins.took += time.Since(start)
	return nil
}
