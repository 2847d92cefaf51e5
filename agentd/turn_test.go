package agentd

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

// overlapTart records the most clones it saw running at once.
type overlapTart struct {
	*tarttest.Fake
	running, most atomic.Int32
}

func (o *overlapTart) Clone(ctx context.Context, src, dst string) error {
	n := o.running.Add(1)
	defer o.running.Add(-1)
	for {
		m := o.most.Load()
		if n <= m || o.most.CompareAndSwap(m, n) {
			break
		}
	}
	return o.Fake.Clone(ctx, src, dst)
}

func TestAgentCommandsTakeTurns(t *testing.T) {
	t.Parallel()
	f := tarttest.NewFake("")
	f.SetDelay(tarttest.OpClone, 100*time.Millisecond)
	ot := &overlapTart{Fake: f}
	a := newAgent(t, testConfig(t), ot, WithMemoryState())
	pull := func(r string) events.PullRequest {
		return events.PullRequest{Source: "ghcr.io/acme/img:" + r, Name: name(r, "1.2.16", "3.6")}
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, r := range []string{"13", "14"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = a.Pull(context.Background(), pull(r))
		}()
	}
	// While a pull holds the turn, a command whose context ends first
	// gives up with ErrLockBusy and never reaches tart.
	eventually(t, 5*time.Second, "a pull running", func() bool { return ot.running.Load() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := a.Prune(ctx, events.PruneRequest{VMs: []string{name("13", "1.2.16", "3.5")}}); !errors.Is(err, ErrLockBusy) {
		t.Errorf("Got(Prune while a pull holds the turn) = %v, want ErrLockBusy", err)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Got(pull %d) = %v, want nil", i, err)
		}
	}
	if got := ot.most.Load(); got != 1 {
		t.Errorf("Got(most clones at once) = %d, want 1", got)
	}
	if h := mustCheck(t, a); !h.Ready {
		t.Errorf("Got(ready after both pulls) = false, want true: %+v", h.Releases)
	}
}
