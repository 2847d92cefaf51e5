package bkagenttest

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestFakeSignals: like buildkite-agent, the fake finishes its job on the
// first SIGTERM and cancels it on the second, or on SIGQUIT.
func TestFakeSignals(t *testing.T) {
	t.Parallel()
	exe := BuildExecutable(t)
	tests := []struct {
		name    string
		signals []syscall.Signal
		want    string
	}{
		{"one SIGTERM finishes the job", []syscall.Signal{syscall.SIGTERM}, KindFinished},
		{"a second SIGTERM cancels it", []syscall.Signal{syscall.SIGTERM, syscall.SIGTERM}, KindCanceled},
		{"SIGQUIT cancels it", []syscall.Signal{syscall.SIGTERM, syscall.SIGQUIT}, KindCanceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := NewState(t)
			st.Hold()
			cmd := exec.Command(exe, "start", "--tags", "a=1")
			cmd.Env = append(st.Env(), "BUILDKITE_AGENT_TAGS=a=1")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			st.WaitFor("job", 10*time.Second, func(evs []Event) bool { return Has(evs, 1, KindJob) })
			for i, sig := range tc.signals {
				if err := cmd.Process.Signal(sig); err != nil {
					t.Fatal(err)
				}
				if i == 0 { // signals are not queued: let the fake see the first
					st.WaitFor("first signal", 10*time.Second, func(evs []Event) bool { return Has(evs, 1, KindSigterm) })
				}
			}
			if len(tc.signals) == 1 {
				st.Release()
			}
			if err := cmd.Wait(); err != nil {
				t.Errorf("Got(exit) = %v, want 0", err)
			}
			if evs := st.Events(); !Has(evs, 1, tc.want) || !Has(evs, 1, KindExit) {
				t.Errorf("Got(events) = %v, want %s then exit", evs, tc.want)
			}
			if got := st.Starts(); len(got) != 1 || got[0].TagsFlag() != "a=1" || got[0].TagsEnv != "a=1" {
				t.Errorf("Got(starts) = %+v, want one with --tags a=1 and BUILDKITE_AGENT_TAGS a=1", got)
			}
		})
	}
}
