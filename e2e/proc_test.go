package e2e

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is one child process of the test: its output goes to t.Log (and is
// kept for assertions), it is killed with its process group when the test
// ends.
type proc struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // set once done is closed

	mu    sync.Mutex
	lines []string
	ended bool // the test is over: stop logging
}

// startProc starts bin with args and env (added to a minimal environment).
func startProc(t *testing.T, name, bin string, args, env []string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p.cmd.WaitDelay = 2 * time.Second // a grandchild holding the output open
	pr, pw := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = pw, pw
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go p.copyLines(pr)
	go func() {
		p.err = p.cmd.Wait()
		_ = pw.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.killGroup()
		<-p.done
		p.mu.Lock()
		p.ended = true
		p.mu.Unlock()
	})
	return p
}

// lingerDir is a temporary directory for files that processes outliving
// the test's own children (grandchildren in process groups of their own)
// may still write for a moment: it is removed when the test ends, retrying
// while new entries appear, where t.TempDir would fail the test.
func lingerDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "vmfleet-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for {
			err := os.RemoveAll(dir)
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("remove %s: %v", dir, err)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	return dir
}

func (p *proc) copyLines(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		p.lines = append(p.lines, line)
		if !p.ended {
			p.t.Logf("[%s] %s", p.name, line)
		}
		p.mu.Unlock()
	}
	_, _ = io.Copy(io.Discard, r)
}

// pid is the process id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// signal sends sig to the process (not its group).
func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.t.Errorf("signal %s to %s: %v", sig, p.name, err)
	}
}

// kill9 kills the process and its children at once and waits for it.
func (p *proc) kill9() {
	p.killGroup()
	<-p.done
}

func (p *proc) killGroup() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
}

// wait waits at most d for the process to exit; it returns the exit code
// (-1 when killed by a signal) and whether it exited.
func (p *proc) wait(d time.Duration) (int, bool) {
	select {
	case <-p.done:
	case <-time.After(d):
		return 0, false
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode(), true
	}
	return 0, true
}

// running reports whether the process has not exited.
func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// logged returns the index of the first output line containing s, or -1.
func (p *proc) logged(s string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, l := range p.lines {
		if strings.Contains(l, s) {
			return i
		}
	}
	return -1
}

// waitFor polls cond every 20 ms until it holds, failing the test after
// within; it returns how long it took.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}
