package tart_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/vmfleet/vmfleet/internal/testlog"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/tart"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

// tartAPI is the method set agentd relies on; both the Client and the
// in-memory Fake must keep it.
type tartAPI interface {
	List(ctx context.Context) ([]events.VM, error)
	Get(ctx context.Context, name string) (tart.Info, error)
	Delete(ctx context.Context, name string) error
	Rename(ctx context.Context, from, to string) error
	Clone(ctx context.Context, src, dst string) error
	Pull(ctx context.Context, ref string) error
	Version(ctx context.Context) (string, error)
}

var (
	_ tartAPI = (*tart.Client)(nil)
	_ tartAPI = (*tarttest.Fake)(nil)
)

func testLogger(t testing.TB) *slog.Logger { return testlog.New(t, slog.LevelDebug) }

// newClient returns a Client running the fake tart executable against a new
// state directory imitating version.
func newClient(t testing.TB, version string, opts ...tart.Option) (*tart.Client, *tarttest.State) {
	t.Helper()
	st := tarttest.NewState(t, "", version)
	base := []tart.Option{tart.WithPath(tarttest.BuildExecutable(t)), tart.WithEnv(st.Env()...)}
	if _, ok := t.(*testing.T); ok {
		base = append(base, tart.WithLogger(testLogger(t)))
	}
	c, err := tart.New(append(base, opts...)...)
	if err != nil {
		t.Fatalf("Got(New) error %v", err)
	}
	return c, st
}

var inventory = []events.VM{
	{Name: "bun-build-macos-14-1.2.16-bootstrap-3.6", DiskGB: 100, SizeGB: 38, Accessed: time.Date(2025, 1, 7, 10, 5, 23, 0, time.UTC)},
	// A lookalike: a regex-dot match of the name above, not the name.
	{Name: "bun-build-macos-14-1.2.16-bootstrap-3x6", State: events.VMRunning, DiskGB: 100, SizeGB: 41, Accessed: time.Date(2025, 1, 8, 8, 0, 0, 0, time.UTC)},
	{Name: "ghcr.io/cirruslabs/macos-sonoma-base:latest", Source: "oci", DiskGB: 50, SizeGB: 22, Accessed: time.Date(2024, 12, 1, 9, 0, 0, 0, time.UTC)},
}

func TestListFormats(t *testing.T) {
	t.Parallel()
	tests := []struct {
		version      string
		wantAccessed bool
	}{
		{"2.20.0", false}, // prints SizeOnDisk
		{"2.35.0", true},  // prints Accessed
		{"1.9.0", false},  // no Disk, lower-case "oci"
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			t.Parallel()
			c, st := newClient(t, tt.version)
			st.Add(inventory...)
			got, err := c.List(context.Background())
			if err != nil {
				t.Fatalf("Got(List) error %v", err)
			}
			want := st.VMs()
			for i := range want {
				if !tt.wantAccessed {
					want[i].Accessed = time.Time{}
				}
				if tt.version < "2" {
					want[i].DiskGB = 0
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Got(List) differs (-want +got):\n%s", diff)
			}
			if n := st.CallCount(tarttest.OpList); n != 1 {
				t.Errorf("Got(list invocations) = %d, want 1", n)
			}
		})
	}
}

func TestDelete(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, version, vm string
		wantErr           error
		wantGone          bool
	}{
		{"stopped", "2.35.0", "bun-build-macos-14-1.2.16-bootstrap-3.6", nil, true},
		{"running", "2.35.0", "bun-build-macos-14-1.2.16-bootstrap-3x6", tart.ErrRunning, false},
		{"missing", "2.35.0", "nope", tart.ErrNotFound, true},
		{"missing, lock-file message", "2.11.0", "nope", tart.ErrNotFound, true},
		{"missing, error on stdout", "1.8.0", "nope", tart.ErrNotFound, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, st := newClient(t, tt.version)
			st.Add(inventory...)
			err := c.Delete(context.Background(), tt.vm)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Got(Delete(%q)) = %v, want %v", tt.vm, err, tt.wantErr)
			}
			var te *tart.Error
			if err != nil && (!errors.As(err, &te) || te.ExitCode == 0 || te.Stderr == "") {
				t.Errorf("Got(Delete(%q)) = %#v, want a *tart.Error with exit code and message", tt.vm, err)
			}
			if gone := !st.Has(tt.vm); gone != tt.wantGone {
				t.Errorf("Got(gone %q) = %v, want %v", tt.vm, gone, tt.wantGone)
			}
		})
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	t.Run("hang times out", func(t *testing.T) {
		t.Parallel()
		const timeout = 300 * time.Millisecond
		c, st := newClient(t, "", tart.WithTimeout(tart.OpList, timeout))
		st.Hang(tarttest.OpList)
		start := time.Now()
		_, err := c.List(context.Background())
		took := time.Since(start)
		if !errors.Is(err, tart.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Got(List) = %v, want ErrTimeout wrapping context.DeadlineExceeded", err)
		}
		if took > timeout+3*time.Second {
			t.Errorf("Got(List duration) = %v, want about %v", took, timeout)
		}
	})
	t.Run("hang with a child holding stdout", func(t *testing.T) {
		t.Parallel()
		// The whole process group dies at the deadline, so the return does
		// not wait for the pipe (WaitDelay, 2s) to give up.
		const timeout = 300 * time.Millisecond
		c, st := newClient(t, "", tart.WithTimeout(tart.OpList, timeout), tart.WithEnv(tarttest.EnvHangChild+"=1"))
		st.Hang(tarttest.OpList)
		start := time.Now()
		_, err := c.List(context.Background())
		if took := time.Since(start); !errors.Is(err, tart.ErrTimeout) || took > timeout+time.Second {
			t.Fatalf("Got(List) = %v after %v, want ErrTimeout after about %v", err, took, timeout)
		}
	})
	t.Run("caller cancels", func(t *testing.T) {
		t.Parallel()
		c, st := newClient(t, "")
		st.Hang(tarttest.OpVersion)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() { // cancel once tart is running
			defer cancel()
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
				if st.CallCount(tarttest.OpVersion) > 0 {
					return
				}
				time.Sleep(time.Millisecond)
			}
		}()
		if _, err := c.Version(ctx); !errors.Is(err, tart.ErrTimeout) || !errors.Is(err, context.Canceled) {
			t.Fatalf("Got(Version) = %v, want ErrTimeout wrapping context.Canceled", err)
		}
		if n := st.CallCount(tarttest.OpVersion); n != 1 {
			t.Errorf("Got(version invocations) = %d, want 1", n)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		t.Parallel()
		c, st := newClient(t, "")
		st.Garbage(tarttest.OpList)
		if _, err := c.List(context.Background()); !errors.Is(err, tart.ErrBadOutput) {
			t.Fatalf("Got(List) = %v, want ErrBadOutput", err)
		}
	})
	t.Run("failure", func(t *testing.T) {
		t.Parallel()
		c, st := newClient(t, "")
		st.Fail(tarttest.OpPull)
		err := c.Pull(context.Background(), "ghcr.io/acme/img:1")
		var te *tart.Error
		if !errors.As(err, &te) || te.Kind != nil || te.ExitCode != 1 || !strings.Contains(te.Stderr, "injected") {
			t.Fatalf("Got(Pull) = %#v, want unclassified *tart.Error, exit 1, with stderr", err)
		}
	})
	t.Run("output limit", func(t *testing.T) {
		t.Parallel()
		c, st := newClient(t, "", tart.WithOutputLimit(100))
		st.Add(inventory...)
		if _, err := c.List(context.Background()); !errors.Is(err, tart.ErrBadOutput) {
			t.Fatalf("Got(List) = %v, want ErrBadOutput", err)
		}
	})
}

func TestNotInstalled(t *testing.T) {
	t.Parallel()
	c, err := tart.New(tart.WithPath("/nonexistent/vmfleet/tart"), tart.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatalf("Got(New) error %v, want nil", err)
	}
	_, err = c.List(context.Background())
	if !errors.Is(err, tart.ErrNotInstalled) {
		t.Fatalf("Got(List) = %v, want ErrNotInstalled", err)
	}
	if !strings.Contains(err.Error(), "VMFLEET_TART") {
		t.Errorf("Got(error) = %q, want advice naming VMFLEET_TART", err)
	}
}

// TestEnvPath may not run in parallel: it sets the process environment.
func TestEnvPath(t *testing.T) {
	exe := tarttest.BuildExecutable(t)
	t.Setenv(tart.EnvPath, exe)
	st := tarttest.NewState(t, "", "2.31.0")
	c, err := tart.New(tart.WithEnv(st.Env()...))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Path(); got != exe {
		t.Errorf("Got(Path) = %q, want %q", got, exe)
	}
	if v, err := c.Version(context.Background()); v != "2.31.0" || err != nil {
		t.Errorf("Got(Version) = %q, %v, want 2.31.0, nil", v, err)
	}
}

func TestInvalidNamesNeverReachTart(t *testing.T) {
	t.Parallel()
	c, st := newClient(t, "")
	ctx := context.Background()
	bad := []string{"", "-rf", "--format=json", ".hidden", "a b", "a;rm -rf /", "../x", "x/y", "név", strings.Repeat("a", 129)}
	for _, n := range bad {
		checks := map[string]error{
			"get":         func() error { _, err := c.Get(ctx, n); return err }(),
			"delete":      c.Delete(ctx, n),
			"rename from": c.Rename(ctx, n, "ok"),
			"rename to":   c.Rename(ctx, "ok", n),
			"clone dst":   c.Clone(ctx, "ok", n),
		}
		for what, err := range checks {
			if !errors.Is(err, tart.ErrInvalidName) {
				t.Errorf("Got(%s %q) = %v, want ErrInvalidName", what, n, err)
			}
		}
	}
	for _, ref := range []string{"", "--insecure", "ghcr.io/a b", "ghcr.io/a;b"} {
		if err := c.Pull(ctx, ref); !errors.Is(err, tart.ErrInvalidName) {
			t.Errorf("Got(Pull(%q)) = %v, want ErrInvalidName", ref, err)
		}
		if err := c.Clone(ctx, ref, "ok"); !errors.Is(err, tart.ErrInvalidName) {
			t.Errorf("Got(Clone(%q)) = %v, want ErrInvalidName", ref, err)
		}
	}
	if calls := st.Calls(); len(calls) != 0 {
		t.Errorf("Got(tart invocations) = %v, want none", calls)
	}
}

func TestRenameCloneGetPull(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, st := newClient(t, "")
	st.Add(inventory...)
	const name = "bun-build-macos-14-1.2.16-bootstrap-3.6"

	if err := c.Rename(ctx, name, "tmp-build"); err != nil {
		t.Fatalf("Got(Rename) = %v, want nil", err)
	}
	if err := c.Rename(ctx, "tmp-build", "bun-build-macos-14-1.2.16-bootstrap-3x6"); !errors.Is(err, tart.ErrExists) {
		t.Errorf("Got(Rename onto a taken name) = %v, want ErrExists", err)
	}
	if err := c.Rename(ctx, name, "other"); !errors.Is(err, tart.ErrNotFound) {
		t.Errorf("Got(Rename of a missing VM) = %v, want ErrNotFound", err)
	}
	if err := c.Clone(ctx, "tmp-build", name); err != nil {
		t.Fatalf("Got(Clone) = %v, want nil", err)
	}
	clones := st.CallCount(tarttest.OpClone)
	if err := c.Clone(ctx, "tmp-build", name); !errors.Is(err, tart.ErrExists) {
		t.Errorf("Got(Clone onto a taken name) = %v, want ErrExists", err)
	}
	if n := st.CallCount(tarttest.OpClone); n != clones {
		t.Errorf("Got(clone invocations) = %d, want %d: a taken target must not reach tart, which would replace it", n, clones)
	}
	if err := c.Clone(ctx, "missing", "x"); !errors.Is(err, tart.ErrNotFound) {
		t.Errorf("Got(Clone of a missing VM) = %v, want ErrNotFound", err)
	}
	info, err := c.Get(ctx, name)
	if err != nil || info.State != events.VMStopped || info.DiskGB != 100 || info.SizeGB != 38 || info.OS != "darwin" {
		t.Errorf("Got(Get) = %+v, %v, want a stopped darwin VM of 100/38 GB", info, err)
	}
	if _, err := c.Get(ctx, "missing"); !errors.Is(err, tart.ErrNotFound) {
		t.Errorf("Got(Get of a missing VM) = %v, want ErrNotFound", err)
	}

	const ref = "ghcr.io/acme/macos-14:1.2.16"
	if err := c.Pull(ctx, ref); err != nil {
		t.Fatalf("Got(Pull) = %v, want nil", err)
	}
	vms, err := c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var tags, digests int
	for _, v := range vms {
		if strings.HasPrefix(v.Name, "ghcr.io/acme/macos-14") {
			if v.Source != "oci" {
				t.Errorf("Got(%s).Source = %q, want oci", v.Name, v.Source)
			}
			if tart.IsDigestRef(v.Name) {
				digests++
			} else {
				tags++
			}
		}
	}
	if tags != 1 || digests != 1 {
		t.Errorf("Got(pulled entries) = %d tag, %d digest, want 1 and 1", tags, digests)
	}
}

func TestOptions(t *testing.T) {
	t.Parallel()
	for name, opt := range map[string]tart.Option{
		"empty path":        tart.WithPath(" "),
		"unknown op":        tart.WithTimeout("stop", time.Second),
		"zero timeout":      tart.WithTimeout(tart.OpList, 0),
		"negative default":  tart.WithDefaultTimeout(-time.Second),
		"env without equal": tart.WithEnv("TART_HOME"),
		"nil logger":        tart.WithLogger(nil),
		"zero output limit": tart.WithOutputLimit(0),
	} {
		if _, err := tart.New(opt); !errors.Is(err, tart.ErrInvalidOption) {
			t.Errorf("Got(New(%s)) = %v, want ErrInvalidOption", name, err)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	t.Parallel()
	e := &tart.Error{Args: []string{"delete", "vm"}, ExitCode: 1, Kind: tart.ErrRunning, Stderr: `VM "vm" is running` + "\n"}
	if got, want := e.Error(), `tart delete vm: exit 1: VM is running: VM "vm" is running`; got != want {
		t.Errorf("Got(Error()) = %q, want %q", got, want)
	}
	wrapped := fmt.Errorf("prune: %w", e)
	if !errors.Is(wrapped, tart.ErrRunning) || errors.Is(wrapped, tart.ErrNotFound) {
		t.Errorf("Got(errors.Is) wrong for %v", wrapped)
	}
}

func BenchmarkListProcess(b *testing.B) {
	c, st := newClient(b, "2.35.0")
	vms := make([]events.VM, 500)
	for i := range vms {
		vms[i] = events.VM{Name: fmt.Sprintf("bun-build-macos-%d-1.2.16-bootstrap-3.6", i), DiskGB: 100, SizeGB: 38,
			Accessed: time.Date(2025, 1, 7, 10, 5, 23, 0, time.UTC)}
	}
	st.Add(vms...)
	b.ReportAllocs()
	for b.Loop() {
		got, err := c.List(context.Background())
		if err != nil || len(got) != 500 {
			b.Fatalf("Got(List) = %d VMs, %v", len(got), err)
		}
	}
}
