package bkagent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// restartHelper is the test binary acting as a restart command: it appends
// BUILDKITE_AGENT_TAGS and the tags file's content to $BKAGENT_TEST_DIR/restarts,
// and behaves as $BKAGENT_TEST_DIR/mode says (ok, fail, hang).
func restartHelper(string) int {
	dir := os.Getenv("BKAGENT_TEST_DIR")
	mode, _ := os.ReadFile(filepath.Join(dir, "mode"))
	switch strings.TrimSpace(string(mode)) {
	case "fail":
		fmt.Fprintln(os.Stderr, "Could not find service in domain")
		return 113
	case "hang":
		time.Sleep(time.Minute)
	}
	file, _ := os.ReadFile(os.Getenv("VMFLEET_TAGS_FILE"))
	f, err := os.OpenFile(filepath.Join(dir, "restarts"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return 2
	}
	defer f.Close()
	fmt.Fprintf(f, "%s|%s\n", os.Getenv(EnvTags), strings.TrimSpace(string(file)))
	return 0
}

type restartDir string

func (d restartDir) restarts() []string {
	b, _ := os.ReadFile(filepath.Join(string(d), "restarts"))
	return slices.Collect(strings.Lines(string(b)))
}

func (d restartDir) mode(t *testing.T, m string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(string(d), "mode"), []byte(m), 0o644); err != nil {
		t.Fatal(err)
	}
}

func newCommander(t *testing.T, dir restartDir, path string, opts ...Option) *Commander {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	opts = append([]Option{WithLogger(tlog(t)), WithEnv(helperEnv+"=restart", "BKAGENT_TEST_DIR="+string(dir))}, opts...)
	c, err := NewCommander(path, []string{exe, "-test.run=^$"}, TagOptions{Operator: []string{"queue=darwin"}}, opts...)
	if err != nil {
		t.Fatalf("Got(NewCommander) = %v, want nil", err)
	}
	return c
}

// TestCommandRestartsOnlyOnChange: the file is written and the restart
// command run on the first tags and on each change, not on a repeat, not
// after a vmfleet restart, not when the file holds the same tags in another
// order.
func TestCommandRestartsOnlyOnChange(t *testing.T) {
	t.Parallel()
	for _, format := range []FileFormat{FormatTags, FormatEnv} {
		t.Run(string(format), func(t *testing.T) {
			t.Parallel()
			dir := restartDir(t.TempDir())
			path := filepath.Join(string(dir), "etc", "buildkite-tags")
			c := newCommander(t, dir, path, WithFileFormat(format))
			notReady := Tags(notReady14(), c.opts)
			steps := []struct {
				name     string
				apply    func() ([]string, error)
				restarts int
			}{
				{"first tags", func() ([]string, error) { return c.Apply(context.Background(), notReady14()) }, 1},
				{"same again", func() ([]string, error) { return c.Apply(context.Background(), notReady14()) }, 1},
				{"vmfleet restarted", func() ([]string, error) {
					return newCommander(t, dir, path, WithFileFormat(format)).Apply(context.Background(), notReady14())
				}, 1},
				{"ready", func() ([]string, error) { return c.Apply(context.Background(), ready14()) }, 2},
				{"file reordered by hand", func() ([]string, error) {
					tags := Tags(ready14(), c.opts)
					slices.Reverse(tags)
					if err := os.WriteFile(path, []byte(EnvTags+"="+Format(tags)), 0o644); err != nil {
						t.Fatal(err)
					}
					return c.Apply(context.Background(), ready14())
				}, 2},
				{"not ready again", func() ([]string, error) { return c.Apply(context.Background(), notReady14()) }, 3},
			}
			for _, s := range steps {
				if _, err := s.apply(); err != nil {
					t.Fatalf("%s: Got(Apply) = %v, want nil", s.name, err)
				}
				if got := len(dir.restarts()); got != s.restarts {
					t.Fatalf("%s: Got(restarts) = %d, want %d", s.name, got, s.restarts)
				}
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want := Format(notReady) + "\n"
			if format == FormatEnv {
				want = EnvTags + "=" + want
			}
			if diff := cmp.Diff(want, string(b)); diff != "" {
				t.Errorf("Got(tags file) = %q, want %q", b, want)
			}
			if last := dir.restarts()[2]; last != Format(notReady)+"|"+strings.TrimSpace(want)+"\n" {
				t.Errorf("Got(restart command's env and file) = %q, want the new tags in both", last)
			}
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != TagsFileMode {
				t.Errorf("Got(tags file mode) = %v, %v, want %v", fi.Mode(), err, TagsFileMode)
			}
			if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp*")); len(left) > 0 {
				t.Errorf("Got(temporary files left) = %v, want none", left)
			}
		})
	}
}

// TestCommandRestartFailureRetried: a failing restart command is an
// ErrRestart, and the next check retries it although the file is current.
func TestCommandRestartFailureRetried(t *testing.T) {
	t.Parallel()
	dir := restartDir(t.TempDir())
	c := newCommander(t, dir, filepath.Join(string(dir), "tags"))
	dir.mode(t, "fail")
	if _, err := c.Apply(context.Background(), ready14()); !errors.Is(err, ErrRestart) || !strings.Contains(err.Error(), "Could not find service") {
		t.Fatalf("Got(Apply with a failing restart) = %v, want ErrRestart with its output", err)
	}
	dir.mode(t, "ok")
	tags, err := c.Apply(context.Background(), ready14())
	if err != nil || !Equal(tags, Tags(ready14(), c.opts)) || len(dir.restarts()) != 1 {
		t.Errorf("Got(retry) = %v, %v, %d restarts, want the ready tags, nil, 1", tags, err, len(dir.restarts()))
	}
}

func TestCommandRestartTimeout(t *testing.T) {
	t.Parallel()
	dir := restartDir(t.TempDir())
	c := newCommander(t, dir, filepath.Join(string(dir), "tags"), WithRestartTimeout(200*time.Millisecond))
	dir.mode(t, "hang")
	start := time.Now()
	_, err := c.Apply(context.Background(), ready14())
	if !errors.Is(err, ErrRestart) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Got(Apply with a hanging restart) = %v, want ErrRestart and DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Got(Apply took) = %s, want about the 200ms timeout", d)
	}
}

func TestCommandWithoutRestart(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tags")
	c, err := NewCommander(path, nil, TagOptions{}, WithLogger(tlog(t)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(context.Background(), ready14()); err != nil {
		t.Fatalf("Got(Apply) = %v, want nil", err)
	}
	got, err := ReadTagsFile(path)
	if err != nil || !Equal(got, Tags(ready14(), TagOptions{})) {
		t.Errorf("Got(ReadTagsFile) = %v, %v, want the ready tags", got, err)
	}
}

func TestNewCommanderRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		path    string
		restart []string
		opt     Option
	}{
		{"relative path", "tags", nil, nil},
		{"empty program", "/tmp/tags", []string{""}, nil},
		{"bad format", "/tmp/tags", nil, WithFileFormat("yaml")},
		{"bad timeout", "/tmp/tags", nil, WithRestartTimeout(0)},
	}
	for _, tc := range tests {
		var opts []Option
		if tc.opt != nil {
			opts = append(opts, tc.opt)
		}
		if _, err := NewCommander(tc.path, tc.restart, TagOptions{}, opts...); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("%s: Got(NewCommander) = %v, want ErrInvalidOption", tc.name, err)
		}
	}
}

func TestFromConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     Config
		applier bool
		sup     bool
		err     error
	}{
		{"none", Config{}, false, false, nil},
		{"pause", Config{Lever: LeverPause}, false, false, nil},
		{"pause checks tags", Config{Lever: LeverPause, Tags: TagOptions{Operator: []string{"x"}}}, false, false, ErrInvalidOption},
		{"command", Config{Lever: LeverCommand, TagsFile: "/tmp/vmfleet-tags", RestartCommand: []string{"launchctl", "kickstart", "-k", "system/com.buildkite.buildkite-agent"}, TagsFileFormat: FormatEnv, RestartTimeout: time.Second}, true, false, nil},
		{"command without a file", Config{Lever: LeverCommand}, false, false, ErrInvalidOption},
		{"supervise, agent missing", Config{Lever: LeverSupervise, AgentCommand: []string{"buildkite-agent-surely-not-installed"}}, false, false, ErrAgentNotFound},
		{"unknown", Config{Lever: "restart"}, false, false, ErrInvalidOption},
	}
	for _, tc := range tests {
		a, sup, err := FromConfig(tc.cfg)
		if !errors.Is(err, tc.err) || (a != nil) != tc.applier || (sup != nil) != tc.sup {
			t.Errorf("%s: Got(FromConfig) = %v, %v, %v, want applier %v, supervisor %v, %v", tc.name, a, sup, err, tc.applier, tc.sup, tc.err)
		}
	}
	for _, s := range []string{"", "none", "supervise", "command", "pause"} {
		if _, err := ParseLever(s); err != nil {
			t.Errorf("Got(ParseLever(%q)) = %v, want nil", s, err)
		}
	}
}
