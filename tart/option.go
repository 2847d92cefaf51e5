package tart

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Op names a tart operation, for per-operation timeouts and logs.
type Op string

// Operations of Client.
const (
	OpList    Op = "list"
	OpGet     Op = "get"
	OpDelete  Op = "delete"
	OpRename  Op = "rename"
	OpClone   Op = "clone"
	OpPull    Op = "pull"
	OpVersion Op = "version"
)

// Ops lists every operation, in a stable order.
var Ops = []Op{OpList, OpGet, OpDelete, OpRename, OpClone, OpPull, OpVersion}

// EnvPath names the environment variable consulted for the tart executable
// when WithPath is not given.
const EnvPath = "VMFLEET_TART"

// DefaultTimeouts are the deadlines applied to each operation unless changed
// with WithTimeout or WithDefaultTimeout. Metadata operations are quick even on
// a busy host; clone and pull copy or download tens of gigabytes.
var DefaultTimeouts = map[Op]time.Duration{
	OpList:    60 * time.Second,
	OpGet:     30 * time.Second,
	OpDelete:  60 * time.Second,
	OpRename:  30 * time.Second,
	OpClone:   2 * time.Hour,
	OpPull:    2 * time.Hour,
	OpVersion: 30 * time.Second,
}

// Option configures a Client.
type Option func(*Client) error

// WithPath sets the tart executable: a path, or a name looked up in PATH.
// Without it the Client uses $VMFLEET_TART, else `tart` from PATH.
func WithPath(p string) Option {
	return func(c *Client) error {
		if strings.TrimSpace(p) == "" {
			return fmt.Errorf("%w: tart path is empty", ErrInvalidOption)
		}
		c.path = p
		return nil
	}
}

// WithTimeout sets the deadline of one operation. The caller's context may
// still end it sooner.
func WithTimeout(op Op, d time.Duration) Option {
	return func(c *Client) error {
		if _, ok := DefaultTimeouts[op]; !ok {
			return fmt.Errorf("%w: unknown tart operation %q", ErrInvalidOption, op)
		}
		if d <= 0 {
			return fmt.Errorf("%w: timeout of %s must be positive, got %s", ErrInvalidOption, op, d)
		}
		c.timeouts[op] = d
		return nil
	}
}

// WithDefaultTimeout sets the deadline of every operation not set by
// WithTimeout (options apply in order, so put it first).
func WithDefaultTimeout(d time.Duration) Option {
	return func(c *Client) error {
		if d <= 0 {
			return fmt.Errorf("%w: default timeout must be positive, got %s", ErrInvalidOption, d)
		}
		for op := range c.timeouts {
			c.timeouts[op] = d
		}
		return nil
	}
}

// WithEnv adds KEY=VALUE pairs (e.g. TART_HOME=/Volumes/vms) to the
// environment tart runs with; otherwise it inherits the process environment.
// A later pair overrides an earlier or inherited one with the same key.
func WithEnv(kv ...string) Option {
	return func(c *Client) error {
		for _, s := range kv {
			if k, _, ok := strings.Cut(s, "="); !ok || k == "" {
				return fmt.Errorf("%w: environment entry %q is not KEY=VALUE", ErrInvalidOption, s)
			}
		}
		c.env = append(c.env, kv...)
		return nil
	}
}

// WithLogger sets the logger for invocations (debug level) and failures.
func WithLogger(l *slog.Logger) Option {
	return func(c *Client) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidOption)
		}
		c.log = l
		return nil
	}
}

// WithOutputLimit bounds how much of tart's stdout is kept (default 8 MiB);
// output beyond it fails the call with ErrBadOutput.
func WithOutputLimit(n int) Option {
	return func(c *Client) error {
		if n <= 0 {
			return fmt.Errorf("%w: output limit must be positive, got %d", ErrInvalidOption, n)
		}
		c.stdoutLimit = n
		return nil
	}
}
