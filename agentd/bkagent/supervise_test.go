package bkagent

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	bk "github.com/vmfleet/vmfleet/agentd/bkagent/bkagenttest"
	"github.com/vmfleet/vmfleet/events"
)

const wait = 10 * time.Second // generous deadline for a condition under -race

// newSupervised returns a supervisor of the fake buildkite-agent.
func newSupervised(t *testing.T, st *bk.State, opts ...Option) *Supervisor {
	t.Helper()
	opts = append([]Option{WithLogger(tlog(t)), WithEnv(st.Env()...)}, opts...)
	s, err := NewSupervisor([]string{bk.BuildExecutable(t), "start", "--name", "mini-1-%spawn"}, TagOptions{Operator: []string{"queue=darwin"}}, opts...)
	if err != nil {
		t.Fatalf("Got(NewSupervisor) = %v, want nil", err)
	}
	return s
}

func has(run int, kind string) func([]bk.Event) bool {
	return func(evs []bk.Event) bool { return bk.Has(evs, run, kind) }
}

func count(evs []bk.Event, run int, kind string) int {
	n := 0
	for _, e := range evs {
		if e.Run == run && e.Kind == kind {
			n++
		}
	}
	return n
}

func index(evs []bk.Event, run int, kind string) int {
	return slices.Index(evs, bk.Event{Run: run, Kind: kind})
}

func mustApply(t *testing.T, a Applier, h events.HostHealth) []string {
	t.Helper()
	tags, err := a.Apply(context.Background(), h)
	if err != nil {
		t.Fatalf("Got(Apply) = %v, want nil", err)
	}
	return tags
}

// TestSuperviseReadyFlipsAfterJob: the image becomes ready while a job runs;
// the agent gets one SIGTERM, finishes the job, and only then starts again
// with vm-ready=true.
func TestSuperviseReadyFlipsAfterJob(t *testing.T) {
	t.Parallel()
	st := bk.NewState(t)
	started := make(chan []string, 4)
	s := newSupervised(t, st, WithOnStart(func(tags []string) { started <- tags }))
	st.Hold()
	notReady := mustApply(t, s, notReady14())
	runInBackground(t, s)
	st.WaitFor("first job", wait, has(1, bk.KindJob))

	want := Format(notReady)
	if got := st.Starts()[0]; got.TagsFlag() != want || got.TagsEnv != want || !slices.Contains(got.Argv, "mini-1-%spawn") {
		t.Fatalf("Got(first start) = %+v, want --tags and BUILDKITE_AGENT_TAGS %q and the configured argv", got, want)
	}
	if got := mustApply(t, s, ready14()); !Equal(got, notReady) {
		t.Errorf("Got(Apply while draining) = %v, want the running agent's %v", got, notReady)
	}
	st.WaitFor("SIGTERM", wait, has(1, bk.KindSigterm))
	if evs := st.Events(); bk.Has(evs, 2, bk.KindStart) {
		t.Fatalf("Got(events) = %v, want no second start while the job runs", evs)
	}
	st.Release()
	evs := st.WaitFor("second job", wait, has(2, bk.KindJob))
	if !(index(evs, 1, bk.KindFinished) < index(evs, 1, bk.KindExit) && index(evs, 1, bk.KindExit) < index(evs, 2, bk.KindStart)) ||
		bk.Has(evs, 1, bk.KindCanceled) || count(evs, 1, bk.KindSigterm) != 1 {
		t.Errorf("Got(events) = %v, want one SIGTERM, the job finished (not canceled), then the restart", evs)
	}
	readyTags := Tags(ready14(), s.opts)
	if got := st.Starts()[1]; got.TagsFlag() != Format(readyTags) || got.TagsEnv != Format(readyTags) {
		t.Errorf("Got(second start tags) = %q / %q, want %q", got.TagsFlag(), got.TagsEnv, Format(readyTags))
	}
	waitUntil(t, "applied ready tags", wait, func() bool { return Equal(s.Applied(), readyTags) })
	for i, want := range [][]string{notReady, readyTags} {
		select {
		case got := <-started:
			if !Equal(got, want) {
				t.Errorf("Got(OnStart %d) = %v, want %v", i+1, got, want)
			}
		case <-time.After(wait):
			t.Fatalf("Got(no OnStart %d), want one per start", i+1)
		}
	}
	if !slices.Contains(readyTags, "vm-ready-macos-14=true") || !slices.Contains(readyTags, "queue=darwin") {
		t.Errorf("Got(ready tags) = %v, want vm-ready-macos-14=true and the operator's queue", readyTags)
	}
}

// TestSuperviseCoalesces: five tag flips while the job drains give exactly
// one restart, with the last tags.
func TestSuperviseCoalesces(t *testing.T) {
	t.Parallel()
	st := bk.NewState(t)
	s := newSupervised(t, st)
	st.Hold()
	mustApply(t, s, notReady14())
	r := runInBackground(t, s)
	st.WaitFor("first job", wait, has(1, bk.KindJob))
	for _, h := range []events.HostHealth{ready14(), notReady14(), ready14(), notReady14(), ready14()} {
		mustApply(t, s, h)
	}
	st.WaitFor("SIGTERM", wait, has(1, bk.KindSigterm))
	st.Release()
	st.WaitFor("second job", wait, has(2, bk.KindJob))
	r.cancel()
	if err := r.wait(t, wait); err != nil {
		t.Fatalf("Got(Run) = %v, want nil", err)
	}
	evs := st.Events()
	if got := st.Starts(); len(got) != 2 || got[1].TagsEnv != Format(Tags(ready14(), s.opts)) {
		t.Errorf("Got(starts) = %+v, want exactly 2, the second with the final (ready) tags", got)
	}
	if n := count(evs, 1, bk.KindSigterm); n != 1 {
		t.Errorf("Got(SIGTERMs to run 1) = %d, want 1; events %v", n, evs)
	}
	if s.Starts() != 2 {
		t.Errorf("Got(Starts) = %d, want 2", s.Starts())
	}
}

// TestSuperviseCrashBackoff: an agent that exits unasked is restarted after
// 1s, 2s, then the cap; a run that lasted past stable-after starts over at 1s.
func TestSuperviseCrashBackoff(t *testing.T) {
	t.Parallel()
	st := bk.NewState(t)
	clk := newFakeClock()
	s := newSupervised(t, st, WithClock(clk), WithBackoff(time.Second, 3*time.Second))
	st.CrashAtStart(3)
	mustApply(t, s, ready14())
	runInBackground(t, s)
	st.WaitFor("a run that stays up", wait, has(4, bk.KindJob))
	if diff := cmp.Diff([]time.Duration{time.Second, 2 * time.Second, 3 * time.Second}, clk.Waits()); diff != "" {
		t.Errorf("Got(backoff waits) = %v, want 1s 2s 3s; diff:\n%s", clk.Waits(), diff)
	}
	clk.Advance(2 * time.Minute) // run 4 has been up past stable-after
	st.CrashNow()
	st.WaitFor("restart after the crash", wait, has(5, bk.KindJob))
	if got := clk.Waits(); len(got) != 4 || got[3] != time.Second {
		t.Errorf("Got(backoff waits) = %v, want a 4th of 1s (reset after a stable run)", got)
	}
	for i, start := range st.Starts() {
		if want := Format(Tags(ready14(), s.opts)); start.TagsEnv != want {
			t.Errorf("Got(start %d tags) = %q, want %q", i+1, start.TagsEnv, want)
		}
	}
}

// TestSuperviseStop: Run's end stops the agent with one SIGTERM and waits for
// its job to finish; a second stop request (Cancel) cancels the job
// (SIGQUIT), whether it comes during the stop or just before it.
func TestSuperviseStop(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		cancelBefore bool // Cancel before Run's context ends (a racing second signal)
		cancelDuring bool // Cancel while the job drains
		wantKind     string
		wantQuit     bool
	}{
		{name: "graceful", wantKind: bk.KindFinished},
		{name: "second stop cancels", cancelDuring: true, wantKind: bk.KindCanceled, wantQuit: true},
		{name: "second stop first cancels", cancelBefore: true, wantKind: bk.KindCanceled, wantQuit: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := bk.NewState(t)
			s := newSupervised(t, st)
			st.Hold()
			mustApply(t, s, ready14())
			r := runInBackground(t, s)
			st.WaitFor("job", wait, has(1, bk.KindJob))
			if tc.cancelBefore {
				s.Cancel()
			}
			r.cancel()
			st.WaitFor("signal", wait, func(evs []bk.Event) bool { return bk.Has(evs, 1, bk.KindSigterm) || bk.Has(evs, 1, bk.KindSigquit) })
			if tc.cancelDuring {
				if r.returned() {
					t.Fatal("Got(Run returned) while the job runs, want it to wait")
				}
				s.Cancel()
			}
			if !tc.cancelDuring && !tc.cancelBefore {
				if r.returned() {
					t.Fatal("Got(Run returned) while the job runs, want it to wait")
				}
				st.Release()
			}
			if err := r.wait(t, wait); err != nil {
				t.Errorf("Got(Run) = %v, want nil", err)
			}
			evs := st.Events()
			if !bk.Has(evs, 1, tc.wantKind) || count(evs, 1, bk.KindSigterm) > 1 || (!tc.wantQuit && count(evs, 1, bk.KindSigterm) != 1) || bk.Has(evs, 1, bk.KindSigquit) != tc.wantQuit || len(st.Starts()) != 1 {
				t.Errorf("Got(events) = %v, want %s after one SIGTERM (SIGQUIT: %v; after SIGQUIT the SIGTERM may go unseen), one start", evs, tc.wantKind, tc.wantQuit)
			}
		})
	}
}

// TestSuperviseCancelWhileDraining: a second stop request while the agent
// drains for new tags cancels the job, and the restart follows.
func TestSuperviseCancelWhileDraining(t *testing.T) {
	t.Parallel()
	st := bk.NewState(t)
	s := newSupervised(t, st)
	st.Hold()
	mustApply(t, s, notReady14())
	runInBackground(t, s)
	st.WaitFor("job", wait, has(1, bk.KindJob))
	mustApply(t, s, ready14())
	st.WaitFor("SIGTERM", wait, has(1, bk.KindSigterm))
	s.Cancel()
	evs := st.WaitFor("restart", wait, has(2, bk.KindJob))
	if !bk.Has(evs, 1, bk.KindCanceled) {
		t.Errorf("Got(events) = %v, want run 1's job canceled", evs)
	}
}

// TestSuperviseNoTagsNoStart: Run starts nothing before the first tags, and
// returns at once when its context ends.
func TestSuperviseNoTagsNoStart(t *testing.T) {
	t.Parallel()
	st := bk.NewState(t)
	s := newSupervised(t, st)
	r := runInBackground(t, s)
	r.cancel()
	if err := r.wait(t, wait); err != nil || len(st.Starts()) != 0 {
		t.Errorf("Got(Run, starts) = %v, %d, want nil, 0", err, len(st.Starts()))
	}
}

// TestSuperviseLogsChildOutput: the agent's stdout and stderr lines reach the
// logger.
func TestSuperviseLogsChildOutput(t *testing.T) {
	t.Parallel()
	st := bk.NewState(t)
	rec := &recorder{}
	s := newSupervised(t, st, WithLogger(newRecLogger(rec)))
	mustApply(t, s, ready14())
	r := runInBackground(t, s)
	st.WaitFor("job", wait, has(1, bk.KindJob))
	r.cancel()
	if err := r.wait(t, wait); err != nil {
		t.Fatalf("Got(Run) = %v, want nil", err)
	}
	for _, want := range []string{"stdout: fake buildkite-agent run 1 started", "stdout: with tags " + Format(Tags(ready14(), s.opts)), "stderr: fake buildkite-agent run 1: stderr works"} {
		if !slices.Contains(rec.lines(), want) {
			t.Errorf("Got(logged child output) = %q, want %q among them", rec.lines(), want)
		}
	}
}

func TestNewSupervisorRejects(t *testing.T) {
	t.Parallel()
	fake := bk.BuildExecutable(t)
	tests := []struct {
		name string
		argv []string
		opts TagOptions
		opt  Option
		want error
	}{
		{"empty argv", nil, TagOptions{}, nil, ErrInvalidOption},
		{"--tags in argv", []string{fake, "start", "--tags", "queue=x"}, TagOptions{}, nil, ErrInvalidOption},
		{"--tags= in argv", []string{fake, "start", "--tags=queue=x"}, TagOptions{}, nil, ErrInvalidOption},
		{"not installed", []string{"buildkite-agent-surely-not-installed", "start"}, TagOptions{}, nil, ErrAgentNotFound},
		{"tags in env", []string{fake, "start"}, TagOptions{}, WithEnv("BUILDKITE_AGENT_TAGS=queue=x"), ErrInvalidOption},
		{"bad env", []string{fake, "start"}, TagOptions{}, WithEnv("NOEQUALS"), ErrInvalidOption},
		{"bad backoff", []string{fake, "start"}, TagOptions{}, WithBackoff(time.Minute, time.Second), ErrInvalidOption},
		{"bad operator tag", []string{fake, "start"}, TagOptions{Operator: []string{"darwin"}}, nil, ErrInvalidOption},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var opts []Option
			if tc.opt != nil {
				opts = append(opts, tc.opt)
			}
			if _, err := NewSupervisor(tc.argv, tc.opts, opts...); !errors.Is(err, tc.want) {
				t.Errorf("Got(NewSupervisor) = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestChildEnv(t *testing.T) {
	t.Parallel()
	got := childEnv([]string{"HOME=/h", "BUILDKITE_AGENT_TAGS=stale=1", "BUILDKITE_AGENT_TOKEN_PATH=/t"}, []string{"X=1"}, "a=1,b=2")
	want := []string{"HOME=/h", "BUILDKITE_AGENT_TOKEN_PATH=/t", "X=1", "BUILDKITE_AGENT_TAGS=a=1,b=2"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Got(childEnv) = %v, want %v", got, want)
	}
}
