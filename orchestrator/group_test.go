package orchestrator

import (
	"context"
	"errors"
	"testing"
)

func TestGroupNilReturnLeavesSiblingsRunning(t *testing.T) {
	g, ctx := newGroup(context.Background())
	g.Go(func() error { return nil }) // e.g. no Buildkite agents API configured
	g.wg.Wait()                       // the loop has returned and its goroutine ended
	if err := ctx.Err(); err != nil {
		t.Fatalf("Got(group ctx) = %v after a loop returned nil, want siblings left running", err)
	}
	boom := errors.New("boom")
	g.Go(func() error { return boom })
	if err := g.Wait(); !errors.Is(err, boom) {
		t.Errorf("Got(Wait) = %v, want %v", err, boom)
	}
	if ctx.Err() == nil {
		t.Error("Got(group ctx) alive after an error, want it cancelled")
	}
}
