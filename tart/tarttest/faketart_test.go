package tarttest

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vmfleet/vmfleet/events"
)

var update = flag.Bool("update", false, "rewrite tart/testdata golden files from the fake (review every diff against tart's sources)")

const testdata = "../testdata"

// GoldenInventory is the inventory behind tart/testdata's list and get files.
var goldenInventory = []events.VM{
	{Name: "bun-build-macos-14-1.2.16-bootstrap-3.6", Source: "local", State: events.VMStopped, DiskGB: 100, SizeGB: 38, Accessed: time.Date(2025, 1, 7, 10, 5, 23, 0, time.UTC)},
	{Name: "bun-build-macos-14-1.2.16-bootstrap-3x6", Source: "local", State: events.VMRunning, DiskGB: 100, SizeGB: 41, Accessed: time.Date(2025, 1, 8, 8, 0, 0, 0, time.UTC)},
	{Name: "builder-tmp-7f3a", Source: "local", State: events.VMSuspended, DiskGB: 80, SizeGB: 25, Accessed: time.Date(2024, 12, 30, 17, 45, 9, 0, time.UTC)},
	{Name: "ghcr.io/cirruslabs/macos-sonoma-base:latest", Source: "oci", State: events.VMStopped, DiskGB: 50, SizeGB: 22, Accessed: time.Date(2024, 12, 1, 9, 0, 0, 0, time.UTC)},
	{Name: "ghcr.io/cirruslabs/macos-sonoma-base@sha256:16c1593bbaf787b20b3c0bc094c5b6baf71c937d22c2e4596da85ac55c92e6cc", Source: "oci", State: events.VMStopped, DiskGB: 50, SizeGB: 22, Accessed: time.Date(2024, 12, 1, 9, 0, 0, 0, time.UTC)},
}

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, st *State, env []string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(args, append(st.Env(), env...), &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join(testdata, name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden %s: %v (run with -update to create)", name, err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("Got(%s) differs from golden (-want +got):\n%s", name, diff)
	}
}

// TestGoldenList checks the fake prints each version's list exactly as the
// golden files (which document real tart output) say.
func TestGoldenList(t *testing.T) {
	t.Parallel()
	for _, ver := range Versions {
		t.Run(ver, func(t *testing.T) {
			t.Parallel()
			st := NewState(t, "", ver)
			st.Add(goldenInventory...)
			r := run(t, st, nil, "list", "--format", "json")
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("Got(list) = exit %d, stderr %q, want 0 and none", r.code, r.stderr)
			}
			golden(t, "list-"+ver+".json", r.stdout)
		})
	}
	t.Run("empty", func(t *testing.T) {
		t.Parallel()
		st := NewState(t, "", "2.35.0")
		golden(t, "list-empty-2.35.0.json", run(t, st, nil, "list", "--format=json").stdout)
	})
}

func TestGoldenGet(t *testing.T) {
	t.Parallel()
	for _, ver := range []string{"1.8.0", "2.11.0", "2.35.0"} {
		t.Run(ver, func(t *testing.T) {
			t.Parallel()
			st := NewState(t, "", ver)
			st.Add(goldenInventory...)
			r := run(t, st, nil, "get", "bun-build-macos-14-1.2.16-bootstrap-3.6", "--format", "json")
			if r.code != 0 {
				t.Fatalf("Got(get) = exit %d, stderr %q, want 0", r.code, r.stderr)
			}
			golden(t, "get-"+ver+".json", r.stdout)
		})
	}
}

// TestGoldenErrors checks exit codes and messages of the failures vmfleet
// classifies; the messages are golden files (tart's exact texts).
func TestGoldenErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, ver string
		args      []string
		wantCode  int
		onStdout  bool
	}{
		{"delete-missing-2.35.0", "2.35.0", []string{"delete", "gone"}, 2, false},
		{"delete-missing-2.11.0", "2.11.0", []string{"delete", "gone"}, 1, false},
		{"delete-missing-1.8.0", "1.8.0", []string{"delete", "gone"}, 2, true},
		{"delete-running-2.35.0", "2.35.0", []string{"delete", "bun-build-macos-14-1.2.16-bootstrap-3x6"}, 1, false},
		{"get-missing-2.35.0", "2.35.0", []string{"get", "gone", "--format", "json"}, 2, false},
		{"rename-missing-2.35.0", "2.35.0", []string{"rename", "gone", "new"}, 64, false},
		{"rename-exists-2.35.0", "2.35.0", []string{"rename", "builder-tmp-7f3a", "bun-build-macos-14-1.2.16-bootstrap-3.6"}, 64, false},
		{"clone-missing-2.35.0", "2.35.0", []string{"clone", "gone", "new"}, 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// A fixed state directory path keeps the lock-file message stable.
			st := NewState(t, filepath.Join(t.TempDir(), "fake"), tt.ver)
			st.Add(goldenInventory...)
			r := run(t, st, nil, tt.args...)
			if r.code != tt.wantCode {
				t.Errorf("Got(%v) = exit %d, want %d", tt.args, r.code, tt.wantCode)
			}
			msg, other := r.stderr, r.stdout
			if tt.onStdout {
				msg, other = r.stdout, r.stderr
			}
			if other != "" {
				t.Errorf("Got(%v) other stream = %q, want empty", tt.args, other)
			}
			golden(t, "error-"+tt.name+".txt", strings.ReplaceAll(msg, st.Dir(), "$TART_HOME"))
		})
	}
}
