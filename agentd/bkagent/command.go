package bkagent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/vmfleet/vmfleet/events"
)

// FileFormat is the format of lever command's tags file.
type FileFormat string

// Tags file formats. Both are one line ending in a newline.
const (
	// FormatTags is the value of BUILDKITE_AGENT_TAGS: "k=v,k=v". For a
	// wrapper: buildkite-agent start --tags "$(cat FILE)".
	FormatTags FileFormat = "tags"
	// FormatEnv is "BUILDKITE_AGENT_TAGS=k=v,k=v": a systemd EnvironmentFile,
	// and a file a POSIX shell can source (launchd wrapper script).
	FormatEnv FileFormat = "env"
)

// TagsFileMode is the tags file's permission: readable by the
// buildkite-agent's user, which may not be vmfleet's; tags are not secret.
const TagsFileMode fs.FileMode = 0o644

// Commander is lever command: it writes the tags to a file and runs a
// restart command, only when the tags changed.
type Commander struct {
	path    string
	restart []string
	opts    TagOptions
	set     settings

	mu      sync.Mutex // one Apply at a time
	pending bool       // the file holds tags the restart command has not applied yet
}

// NewCommander returns lever command writing the tags to path (absolute) and
// running restart (e.g. ["systemctl", "restart", "--no-block",
// "buildkite-agent"]) after each change. An empty restart only writes the
// file (for a service manager that watches it).
func NewCommander(path string, restart []string, opts TagOptions, options ...Option) (*Commander, error) {
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("%w: buildkite.tags_file %q: want an absolute path", ErrInvalidOption, path)
	}
	if len(restart) > 0 && restart[0] == "" {
		return nil, fmt.Errorf("%w: buildkite.restart_command: empty program name", ErrInvalidOption)
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	set, err := apply(options)
	if err != nil {
		return nil, err
	}
	return &Commander{path: path, restart: slices.Clone(restart), opts: opts, set: set}, nil
}

// Apply implements agentd's TagApplier: it computes the tags for h; if they
// differ from the file's (in any order), it writes them atomically and runs
// the restart command. Restarts of vmfleet therefore restart nothing when the
// file already holds the tags. A failed restart returns an error wrapping
// ErrRestart and is retried on the next Apply; the tags returned are the
// file's, applied.
func (c *Commander) Apply(ctx context.Context, h events.HostHealth) ([]string, error) {
	tags := Tags(h, c.opts)
	c.mu.Lock()
	defer c.mu.Unlock()
	cur, err := c.read()
	if err != nil {
		c.set.log.Warn("tags file unreadable: rewriting it", "path", c.path, "err", err)
	}
	if err == nil && Equal(cur, tags) && !c.pending {
		return tags, nil
	}
	if err != nil || !Equal(cur, tags) {
		if err := c.write(tags); err != nil {
			return nil, err
		}
		c.set.log.Info("Buildkite agent tags written", "path", c.path, "tags", Format(tags))
	}
	c.pending = true
	if err := c.runRestart(ctx, tags); err != nil {
		return nil, err
	}
	c.pending = false
	return tags, nil
}

// ReadTagsFile reads a tags file in either format; a missing file is no tags.
func ReadTagsFile(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTagsFile, err)
	}
	s := strings.TrimSpace(string(b))
	s = strings.TrimPrefix(s, EnvTags+"=")
	tags, err := Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrTagsFile, path, err)
	}
	return tags, nil
}

func (c *Commander) read() ([]string, error) { return ReadTagsFile(c.path) }

// write replaces the file atomically: a temporary file in the same
// directory, synced, then renamed over it.
func (c *Commander) write(tags []string) error {
	line := Format(tags)
	if c.set.fileFormat == FormatEnv {
		line = EnvTags + "=" + line
	}
	dir := filepath.Dir(c.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%w: %w", ErrTagsFile, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(c.path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrTagsFile, err)
	}
	defer os.Remove(f.Name()) // after a successful rename, a no-op
	_, err = f.WriteString(line + "\n")
	err = errors.Join(err, f.Chmod(TagsFileMode), f.Sync(), f.Close())
	if err == nil {
		err = os.Rename(f.Name(), c.path)
	}
	if err != nil {
		return fmt.Errorf("%w: write %s: %w", ErrTagsFile, c.path, err)
	}
	return nil
}

// maxOutput bounds the restart command's output kept for logs and errors.
const maxOutput = 4 << 10

// runRestart runs the restart command with the timeout, explicit argv and
// BUILDKITE_AGENT_TAGS and VMFLEET_TAGS_FILE in its environment.
func (c *Commander) runRestart(ctx context.Context, tags []string) error {
	if len(c.restart) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.set.restartTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.restart[0], c.restart[1:]...)
	env := childEnv(os.Environ(), c.set.env, Format(tags))
	cmd.Env = append(env, "VMFLEET_TAGS_FILE="+c.path)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = DefaultWaitDelay
	err := cmd.Run()
	tail := strings.TrimSpace(string(lastBytes(out.Bytes(), maxOutput)))
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w after %s", ctx.Err(), c.set.restartTimeout)
		}
		c.set.log.Error("restart command failed: retrying on the next check", "argv", c.restart, "err", err, "output", tail)
		return fmt.Errorf("%w: %s: %w: %s", ErrRestart, strings.Join(c.restart, " "), err, tail)
	}
	c.set.log.Info("buildkite-agent restart command ran", "argv", c.restart, "output", tail)
	return nil
}

func lastBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
