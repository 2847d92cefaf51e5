// Package realagent finds the real buildkite-agent executable for tests
// that run it against the fake Buildkite (package buildkitefake serves its
// agent API): the version tools/go.mod pins, which `make buildkite-agent`
// builds into bin/buildkite-agent. A test that needs it skips without it
// locally and fails in CI.
//
// It is test plumbing: only tests import it.
package realagent

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// EnvBin names the real buildkite-agent executable the tests run
// (`make test` builds it from tools/go.mod and sets this).
const EnvBin = "VMFLEET_TEST_BUILDKITE_AGENT"

// EnvRequire set to 1 (as .ci/run does), or CI set, makes a test that cannot
// find the agent fail instead of skipping.
const EnvRequire = "VMFLEET_REQUIRE_BUILDKITE_AGENT"

// Bin returns the path of the real buildkite-agent: $VMFLEET_TEST_BUILDKITE_AGENT,
// else the repository's bin/buildkite-agent (`make buildkite-agent`), else
// buildkite-agent in PATH. Without one the test skips locally and fails in CI
// (CI=true, or VMFLEET_REQUIRE_BUILDKITE_AGENT=1 as .ci/run sets).
func Bin(t testing.TB) string {
	t.Helper()
	var tried []string
	if p := os.Getenv(EnvBin); p != "" {
		if isExecutable(p) {
			return p
		}
		tried = append(tried, p)
	}
	if root := repoRoot(); root != "" {
		p := filepath.Join(root, "bin", "buildkite-agent")
		if isExecutable(p) {
			return p
		}
		tried = append(tried, p)
	}
	if p, err := exec.LookPath("buildkite-agent"); err == nil {
		return p
	}
	tried = append(tried, "buildkite-agent in PATH")
	msg := "no buildkite-agent (tried " + strings.Join(tried, ", ") + "): `make buildkite-agent` builds the pinned one"
	if os.Getenv("CI") != "" || os.Getenv(EnvRequire) == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// repoRoot is the module root, found from this file's directory.
func repoRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return ""
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "..")
}

// PinnedVersion is the buildkite-agent version tools/go.mod requires, e.g. "3.78.0".
func PinnedVersion(t testing.TB) string {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot(), "tools", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "github.com/buildkite/agent/v3" {
			return strings.TrimPrefix(fields[1], "v")
		}
	}
	t.Fatal("tools/go.mod requires no github.com/buildkite/agent/v3")
	return ""
}

// Version runs bin --version and returns its answer, e.g.
// "buildkite-agent version 3.78.0+x..dirty".
func Version(t testing.TB, bin string) string {
	t.Helper()
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --version: %v\n%s", bin, err, out)
	}
	return strings.TrimSpace(string(out))
}

// Hooks writes a hooks directory (buildkite-agent --hooks-path) whose
// checkout hook stands in for git, which cannot reach the fake's
// repositories: it copies the files under src, if src is not empty, into
// the job's checkout directory.
func Hooks(t testing.TB, src string) string {
	t.Helper()
	dir := t.TempDir()
	hook := "#!/bin/sh\n# vmfleet test: the checkout, without git.\nset -eu\ncd \"$BUILDKITE_BUILD_CHECKOUT_PATH\"\n"
	if src != "" {
		hook += "cp -R '" + src + "/.' .\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "checkout"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
