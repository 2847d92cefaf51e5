package bkagent

import (
	"bytes"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// EnvTags is the environment variable buildkite-agent reads its tags from.
const EnvTags = "BUILDKITE_AGENT_TAGS"

// child is one run of buildkite-agent.
type child struct {
	cmd     *exec.Cmd
	tags    []string
	started time.Time
	done    chan error // receives Wait's result once
	log     *slog.Logger

	// termed and quit record the signals sent; only Run's goroutine touches them.
	termed, quit bool
}

// startChild runs argv with --tags and BUILDKITE_AGENT_TAGS set to tags, in its
// own process group (so a terminal's ^C or a service manager's group signal
// reaches only vmfleet, which forwards exactly one SIGTERM). The process is
// long-lived on purpose: it has no deadline, and it ends when it is told to.
func startChild(argv, env []string, tags []string, log *slog.Logger, now time.Time) (*child, error) {
	joined := Format(tags)
	args := append(slices.Clone(argv[1:]), "--tags", joined)
	cmd := exec.Command(argv[0], args...)
	cmd.Env = childEnv(os.Environ(), env, joined)
	out, errOut := newLineLogger(log, "stdout"), newLineLogger(log, "stderr")
	cmd.Stdout, cmd.Stderr = out, errOut
	cmd.WaitDelay = DefaultWaitDelay
	ownProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, tags: tags, started: now, done: make(chan error, 1), log: log.With("pid", cmd.Process.Pid)}
	// Ends when the process has exited and its output was read (WaitDelay
	// bounds the latter); Run always waits for it before returning.
	go func() {
		err := cmd.Wait()
		out.flush()
		errOut.flush()
		c.done <- err
	}()
	return c, nil
}

// term sends the first SIGTERM: buildkite-agent stops after its running job.
// Further calls do nothing.
func (c *child) term() {
	if c.termed {
		return
	}
	c.termed = true
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		c.log.Debug("signal buildkite-agent", "err", err)
		return
	}
	c.log.Info("sent SIGTERM to buildkite-agent: it stops after its running job")
}

// cancelJob makes the stop ungraceful: buildkite-agent cancels its running
// job and exits. It sends SIGQUIT, buildkite-agent's documented signal for
// "forcefully disconnect, canceling any job" and what its second SIGTERM
// amounts to; unlike a second SIGTERM, it cannot merge with the first when
// both are sent close together (a pending signal is not queued twice).
func (c *child) cancelJob() {
	if c.quit {
		return
	}
	c.quit = true
	if err := c.cmd.Process.Signal(syscall.SIGQUIT); err != nil {
		c.log.Debug("signal buildkite-agent", "err", err)
		return
	}
	c.log.Warn("sent SIGQUIT to buildkite-agent: it cancels its running job")
}

// childEnv is base without BUILDKITE_AGENT_TAGS, then extra, then the tags.
func childEnv(base, extra []string, tags string) []string {
	env := make([]string, 0, len(base)+len(extra)+1)
	for _, e := range base {
		if !strings.HasPrefix(e, EnvTags+"=") {
			env = append(env, e)
		}
	}
	env = append(env, extra...)
	return append(env, EnvTags+"="+tags)
}

// lineLogger logs each line written to it (buildkite-agent's output).
type lineLogger struct {
	log    *slog.Logger
	stream string
	mu     sync.Mutex
	buf    []byte
}

func newLineLogger(log *slog.Logger, stream string) *lineLogger {
	return &lineLogger{log: log, stream: stream}
}

// maxLine bounds a line kept in memory; longer ones are logged in pieces.
const maxLine = 64 << 10

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			if len(l.buf) >= maxLine {
				l.emit(l.buf)
				l.buf = l.buf[:0]
			}
			return len(p), nil
		}
		l.emit(l.buf[:i])
		l.buf = l.buf[i+1:]
	}
}

func (l *lineLogger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.emit(l.buf)
		l.buf = nil
	}
}

func (l *lineLogger) emit(line []byte) {
	s := strings.TrimRight(string(line), "\r")
	if s != "" {
		l.log.Info(s, "source", "buildkite-agent", "stream", l.stream)
	}
}
