package e2e

import (
	"testing"

	"github.com/vmfleet/vmfleet/internal/gobuild"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

// binaries builds nats-server (the version go.mod pins) and vmfleet once per
// test run, and the fake tart executable; it returns their paths.
func binaries(t *testing.T) (natsServer, vmfleet, tart string) {
	t.Helper()
	natsServer, err := gobuild.Build("github.com/nats-io/nats-server/v2", "nats-server")
	if err != nil {
		t.Fatal(err)
	}
	vmfleet, err = gobuild.Build("github.com/vmfleet/vmfleet/cmd/vmfleet", "vmfleet")
	if err != nil {
		t.Fatal(err)
	}
	return natsServer, vmfleet, tarttest.BuildExecutable(t)
}
