package bkagenttest

import (
	"testing"

	"github.com/vmfleet/vmfleet/internal/gobuild"
)

const fakePkg = "github.com/vmfleet/vmfleet/agentd/bkagent/bkagenttest/fakeagent"

// BuildExecutable compiles the fake (bkagenttest/fakeagent) once per test
// binary and returns its path; the file is named "buildkite-agent". Point it
// at a state directory with NewState(t).Env(). It needs the go command, which
// `go test` puts first in PATH.
func BuildExecutable(t testing.TB) string {
	t.Helper()
	path, err := gobuild.Build(fakePkg, "buildkite-agent")
	if err != nil {
		t.Fatalf("build fake buildkite-agent: %v", err)
	}
	return path
}
