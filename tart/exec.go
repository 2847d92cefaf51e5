package tart

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"time"
)

const (
	// defaultStdoutLimit bounds tart's stdout (a list of thousands of VMs is
	// well under 1 MiB).
	defaultStdoutLimit = 8 << 20
	// stderrLimit bounds tart's stderr; only its start matters.
	stderrLimit = 64 << 10
	// waitDelay bounds how long a killed tart, or a descendant holding its
	// output pipes, may delay the return.
	waitDelay = 2 * time.Second
)

// capBuffer keeps the first limit bytes written to it and counts the rest.
// It never fails a write, so tart is not killed by EPIPE mid-output.
type capBuffer struct {
	buf     []byte
	limit   int
	dropped int
}

func (b *capBuffer) Write(p []byte) (int, error) {
	room := b.limit - len(b.buf)
	if room >= len(p) {
		b.buf = append(b.buf, p...)
		return len(p), nil
	}
	if room > 0 {
		b.buf = append(b.buf, p[:room]...)
	}
	b.dropped += len(p) - max(room, 0)
	return len(p), nil
}

// run executes tart with args under the op's deadline and returns its stdout.
// Every failure is an *Error.
func (c *Client) run(ctx context.Context, op Op, args ...string) ([]byte, error) {
	path, err := c.executable()
	if err != nil {
		return nil, &Error{Args: args, Kind: ErrNotInstalled, Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeouts[op])
	defer cancel()

	cmd := exec.CommandContext(ctx, path, args...)
	if len(c.env) > 0 {
		cmd.Env = append(os.Environ(), c.env...)
	}
	stdout := &capBuffer{limit: c.stdoutLimit}
	stderr := &capBuffer{limit: stderrLimit}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = waitDelay
	killGroupOnCancel(cmd)

	start := time.Now()
	err = cmd.Run()
	exitCode := cmd.ProcessState.ExitCode() // -1 when not started or killed
	c.log.Debug("tart", slog.Any("args", args), slog.Int("exit", exitCode),
		slog.Duration("took", time.Since(start)), slog.Int("stdout_bytes", len(stdout.buf)))
	if err != nil {
		return nil, c.failure(ctx, op, args, err, stdout, stderr)
	}
	if stdout.dropped > 0 {
		return nil, &Error{Args: args, Kind: ErrBadOutput,
			Err: errors.New("stdout exceeds the output limit"), Stderr: string(stderr.buf)}
	}
	return stdout.buf, nil
}

// failure builds the *Error of a failed run.
func (c *Client) failure(ctx context.Context, op Op, args []string, err error, stdout, stderr *capBuffer) error {
	e := &Error{Args: args, Stderr: string(stderr.buf), Err: err}
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		// Killed at the deadline, or the caller gave up: either way tart did
		// not finish. Err keeps context.Canceled/DeadlineExceeded for errors.Is.
		e.Kind, e.Err = ErrTimeout, ctx.Err()
	case errors.As(err, &exitErr):
		// The exit code and message say it all; "exit status N" would repeat it.
		e.ExitCode, e.Err = exitErr.ExitCode(), nil
		if e.Stderr == "" {
			// tart 1.x printed its errors on stdout.
			e.Stderr = string(stdout.buf)
		}
		e.Kind = classify(op, e.ExitCode, e.Stderr)
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission):
		e.Kind = ErrNotInstalled
		c.forget()
	}
	c.log.Debug("tart failed", slog.Any("args", args), slog.Any("error", e))
	return e
}

// executable resolves the tart executable, once it is found; until then
// every call retries, so installing tart needs no restart.
func (c *Client) executable() (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.resolved != "" {
		return c.resolved, nil
	}
	p, err := exec.LookPath(c.path)
	if err != nil {
		return "", err
	}
	c.resolved = p
	return p, nil
}

// forget drops the resolved path after tart vanished (e.g. uninstalled).
func (c *Client) forget() {
	c.mu.Lock()
	c.resolved = ""
	c.mu.Unlock()
}
