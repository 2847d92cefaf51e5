package tart

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vmfleet/vmfleet/events"
)

// Client runs the tart command line. It is safe for concurrent use; it holds
// no lock across invocations (serialising deletes against builds is the
// agent's host lock).
type Client struct {
	path        string
	env         []string
	timeouts    map[Op]time.Duration
	log         *slog.Logger
	stdoutLimit int

	mu       sync.Mutex
	resolved string
}

// New returns a Client. A missing tart executable is not an error here: each
// call fails with ErrNotInstalled until tart appears.
func New(opts ...Option) (*Client, error) {
	c := &Client{
		timeouts:    maps.Clone(DefaultTimeouts),
		log:         slog.New(slog.DiscardHandler),
		stdoutLimit: defaultStdoutLimit,
	}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	if c.path == "" {
		c.path = os.Getenv(EnvPath)
	}
	if c.path == "" {
		c.path = "tart"
	}
	if _, err := c.executable(); err != nil {
		c.log.Warn("tart not found: install tart or set "+EnvPath, slog.String("path", c.path), slog.Any("error", err))
	}
	return c, nil
}

// Path returns the tart executable in use, resolved when it was found.
func (c *Client) Path() string {
	if p, err := c.executable(); err == nil {
		return p
	}
	return c.path
}

// List runs `tart list --format json` once and returns every VM, local and
// OCI, as ParseList normalises them.
func (c *Client) List(ctx context.Context) ([]events.VM, error) {
	args := []string{"list", "--format", "json"}
	out, err := c.run(ctx, OpList, args...)
	if err != nil {
		return nil, err
	}
	vms, err := ParseList(out)
	if err != nil {
		return nil, badOutput(args, err)
	}
	return vms, nil
}

// Get runs `tart get NAME --format json`.
func (c *Client) Get(ctx context.Context, name string) (Info, error) {
	args := []string{"get", name, "--format", "json"}
	if err := validName(args, name); err != nil {
		return Info{}, err
	}
	out, err := c.run(ctx, OpGet, args...)
	if err != nil {
		return Info{}, err
	}
	info, err := ParseInfo(out)
	if err != nil {
		return Info{}, badOutput(args, err)
	}
	return info, nil
}

// Delete runs `tart delete NAME`. tart refuses a running VM (ErrRunning)
// since 2.x; older versions delete it anyway, so callers re-check the state
// first. A missing VM is ErrNotFound, which reconcilers treat as done.
func (c *Client) Delete(ctx context.Context, name string) error {
	args := []string{"delete", name}
	if err := validName(args, name); err != nil {
		return err
	}
	_, err := c.run(ctx, OpDelete, args...)
	return err
}

// Rename runs `tart rename FROM TO` (local VMs only). An existing TO is
// ErrExists, a missing FROM ErrNotFound.
func (c *Client) Rename(ctx context.Context, from, to string) error {
	args := []string{"rename", from, to}
	if err := validName(args, from, to); err != nil {
		return err
	}
	_, err := c.run(ctx, OpRename, args...)
	return err
}

// Clone runs `tart clone SRC DST`; SRC is a local name or an OCI reference
// (pulled first by tart). tart silently replaces an existing DST, so Clone
// lists first and fails with ErrExists if DST is taken (a race with another
// writer remains; the agent's host lock covers it).
func (c *Client) Clone(ctx context.Context, src, dst string) error {
	args := []string{"clone", src, dst}
	if err := validSource(args, src); err != nil {
		return err
	}
	if err := validName(args, dst); err != nil {
		return err
	}
	vms, err := c.List(ctx)
	if err != nil {
		return fmt.Errorf("clone %s to %s: check target: %w", src, dst, err)
	}
	for _, v := range vms {
		if v.Name == dst {
			return &Error{Args: args, Kind: ErrExists}
		}
	}
	_, err = c.run(ctx, OpClone, args...)
	return err
}

// Pull runs `tart pull REF`.
func (c *Client) Pull(ctx context.Context, ref string) error {
	args := []string{"pull", ref}
	if err := events.ValidateOCIRef(ref); err != nil {
		return &Error{Args: args, Kind: ErrInvalidName, Err: err}
	}
	_, err := c.run(ctx, OpPull, args...)
	return err
}

// Version runs `tart --version` and returns what it printed, trimmed
// (e.g. "2.35.0"; development builds may print other text).
func (c *Client) Version(ctx context.Context) (string, error) {
	args := []string{"--version"}
	out, err := c.run(ctx, OpVersion, args...)
	if err != nil {
		return "", err
	}
	v := strings.TrimSpace(string(out))
	if v == "" || strings.ContainsAny(v, "\n\r") {
		return "", badOutput(args, fmt.Errorf("unexpected version output %q", head(out)))
	}
	return v, nil
}

func validName(args []string, names ...string) error {
	for _, n := range names {
		if err := events.ValidateVMName(n); err != nil {
			return &Error{Args: args, Kind: ErrInvalidName, Err: err}
		}
	}
	return nil
}

// validSource accepts a local VM name or, when it has a '/', an OCI reference.
func validSource(args []string, src string) error {
	if !strings.Contains(src, "/") {
		return validName(args, src)
	}
	if err := events.ValidateOCIRef(src); err != nil {
		return &Error{Args: args, Kind: ErrInvalidName, Err: err}
	}
	return nil
}

func badOutput(args []string, err error) error {
	return &Error{Args: args, Kind: ErrBadOutput, Err: err}
}
