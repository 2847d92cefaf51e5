package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// envAgentBin names the real buildkite-agent executable the tests run
// (`make test` builds it from tools/go.mod and sets this).
const envAgentBin = "VMFLEET_TEST_BUILDKITE_AGENT"

// realAgentBin returns the path of the real buildkite-agent: $VMFLEET_TEST_BUILDKITE_AGENT,
// else the repository's bin/buildkite-agent (`make buildkite-agent`), else
// buildkite-agent in PATH. Without one the test skips locally and fails in CI
// (CI=true, or VMFLEET_REQUIRE_BUILDKITE_AGENT=1 as .ci/run sets).
func realAgentBin(t *testing.T) string {
	t.Helper()
	var tried []string
	if p := os.Getenv(envAgentBin); p != "" {
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
	if os.Getenv("CI") != "" || os.Getenv("VMFLEET_REQUIRE_BUILDKITE_AGENT") == "1" {
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
	return filepath.Dir(filepath.Dir(file))
}

// pinnedAgentVersion is the buildkite-agent version tools/go.mod requires, e.g. "3.78.0".
func pinnedAgentVersion(t *testing.T) string {
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

// TestRealBuildkiteAgentVersion: the buildkite-agent the tests run is the
// version tools/go.mod pins.
func TestRealBuildkiteAgentVersion(t *testing.T) {
	bin := realAgentBin(t)
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --version: %v\n%s", bin, err, out)
	}
	want := pinnedAgentVersion(t)
	t.Logf("FIGURE buildkite-agent: %s (%s)", strings.TrimSpace(string(out)), bin)
	if !strings.HasPrefix(strings.TrimSpace(string(out)), "buildkite-agent version "+want) {
		t.Errorf("Got(%s --version) = %q, want buildkite-agent version %s (tools/go.mod)", bin, out, want)
	}
}
