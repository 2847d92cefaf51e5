package sim_test

import (
	"os/exec"
	"strings"
	"testing"
)

const (
	module   = "github.com/vmfleet/vmfleet"
	topFloor = module + "/internal/sim"
)

// goList runs `go list` with args in the module and returns its output lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not found:", err)
	}
	out, err := exec.Command(goTool, append([]string{"list"}, args...)...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list %v: %v\n%s", args, err, ee.Stderr)
		}
		t.Fatalf("go list %v: %v", args, err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

func onTopFloor(path string) bool {
	return path == topFloor || strings.HasPrefix(path, topFloor+"/")
}

// The agent and the orchestrator, as they ship, depend on nothing on the top
// floor: not directly, not through another package.
func TestAgentAndOrchestratorDoNotDependOnTopFloor(t *testing.T) {
	deps := goList(t, "-deps", "-f", "{{.ImportPath}}", module+"/agentd/...", module+"/orchestrator/...")
	seen := map[string]bool{}
	for _, p := range deps {
		seen[p] = true
		if onTopFloor(p) {
			t.Errorf("agentd or orchestrator (non-test) depends on %s", p)
		}
	}
	// The list must be the real one: it holds the roots and the wire types
	// they share.
	for _, want := range []string{module + "/agentd", module + "/orchestrator", module + "/events"} {
		if !seen[want] {
			t.Errorf("go list -deps lacks %s; got %d packages", want, len(deps))
		}
	}
}

// Outside tests, only cmd/... and the top floor itself import the top floor.
func TestOnlyCmdImportsTopFloor(t *testing.T) {
	lines := goList(t, "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", module+"/...")
	if len(lines) < 2 {
		t.Fatalf("go list found %d packages", len(lines))
	}
	for _, line := range lines {
		fields := strings.Fields(line)
		pkg, imports := fields[0], fields[1:]
		if onTopFloor(pkg) || strings.HasPrefix(pkg, module+"/cmd/") {
			continue
		}
		for _, imp := range imports {
			if onTopFloor(imp) {
				t.Errorf("%s imports %s outside its tests", pkg, imp)
			}
		}
	}
}
