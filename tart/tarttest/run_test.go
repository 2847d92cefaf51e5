package tarttest

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vmfleet/vmfleet/events"
)

func TestRunCommands(t *testing.T) {
	t.Parallel()
	const local = "bun-build-macos-14-1.2.16-bootstrap-3.6"
	tests := []struct {
		name      string
		version   string
		args      []string
		wantCode  int
		wantNames []string
		check     func(t *testing.T, st *State, r result)
	}{
		{name: "pull stores tag and digest", args: []string{"pull", "ghcr.io/acme/img:1"},
			wantNames: []string{local, "ghcr.io/acme/img:1", "ghcr.io/acme/img@sha256:" + digestOf("ghcr.io/acme/img:1")}},
		{name: "pull by digest stores one", args: []string{"pull", "ghcr.io/acme/img@sha256:abc"},
			wantNames: []string{local, "ghcr.io/acme/img@sha256:abc"}},
		{name: "pull of a local name fails", args: []string{"pull", "img"}, wantCode: 1, wantNames: []string{local}},
		{name: "clone from a registry pulls first", args: []string{"clone", "ghcr.io/acme/img:1", "new"},
			wantNames: []string{local, "new", "ghcr.io/acme/img:1", "ghcr.io/acme/img@sha256:" + digestOf("ghcr.io/acme/img:1")}},
		{name: "clone replaces an existing target, as tart does", args: []string{"clone", local, local},
			wantNames: []string{local}},
		{name: "clone to a registry name is a usage error", args: []string{"clone", local, "ghcr.io/x/y"}, wantCode: 64, wantNames: []string{local}},
		{name: "rename", args: []string{"rename", local, "renamed"}, wantNames: []string{"renamed"}},
		{name: "delete several", args: []string{"delete", local}, wantNames: []string{}},
		{name: "old tart deletes a running VM", version: "2.3.0", args: []string{"delete", "running"}, wantNames: []string{local}},
		{name: "unknown option", args: []string{"list", "--bogus"}, wantCode: 64, wantNames: []string{local},
			check: func(t *testing.T, _ *State, r result) {
				if !strings.HasPrefix(r.stderr, "Error: Unknown option '--bogus'\nUsage: tart list") {
					t.Errorf("Got(stderr) = %q, want a usage error", r.stderr)
				}
			}},
		{name: "usage error on 1.x goes to stdout, exit 1", version: "1.8.0", args: []string{"get"}, wantCode: 1, wantNames: []string{local},
			check: func(t *testing.T, _ *State, r result) {
				if r.stderr != "" || !strings.Contains(r.stdout, "Missing expected argument") {
					t.Errorf("Got(stdout, stderr) = %q, %q, want the error on stdout", r.stdout, r.stderr)
				}
			}},
		{name: "list quiet, oci only", args: []string{"list", "--source", "oci", "-q"}, wantNames: []string{local},
			check: func(t *testing.T, _ *State, r result) {
				if r.stdout != "" {
					t.Errorf("Got(stdout) = %q, want nothing (no OCI images)", r.stdout)
				}
			}},
		{name: "list text hides Running", args: []string{"list"}, wantNames: []string{local},
			check: func(t *testing.T, _ *State, r result) {
				if !strings.HasPrefix(r.stdout, "Source Name") || strings.Contains(r.stdout, "Running") || !strings.Contains(r.stdout, "Accessed") {
					t.Errorf("Got(stdout) = %q, want a table with Accessed and no Running", r.stdout)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := NewState(t, "", tt.version)
			st.Add(events.VM{Name: local, DiskGB: 100, SizeGB: 38})
			if strings.Contains(tt.name, "running") {
				st.Add(events.VM{Name: "running", State: events.VMRunning})
			}
			r := run(t, st, nil, tt.args...)
			if r.code != tt.wantCode {
				t.Errorf("Got(%v) = exit %d (stderr %q), want %d", tt.args, r.code, r.stderr, tt.wantCode)
			}
			if diff := cmp.Diff(tt.wantNames, st.Names()); diff != "" {
				t.Errorf("Got(names after %v) differs (-want +got):\n%s", tt.args, diff)
			}
			if tt.check != nil {
				tt.check(t, st, r)
			}
		})
	}
}

func TestRunFaultsAndCalls(t *testing.T) {
	t.Parallel()
	st := NewState(t, "", "2.20.0")
	if r := run(t, st, []string{EnvFail + "=get,list"}, "list", "--format", "json"); r.code != 1 || !strings.Contains(r.stderr, "injected") {
		t.Errorf("Got(list with %s) = %+v, want exit 1 and a message", EnvFail, r)
	}
	st.Garbage(OpList)
	r := run(t, st, nil, "list", "--format", "json")
	if r.code != 0 || strings.HasPrefix(strings.TrimSpace(r.stdout), "[") {
		t.Errorf("Got(list with garbage fault) = %+v, want exit 0 and non-JSON", r)
	}
	st.Garbage()
	if r := run(t, st, nil, "list", "--format", "json"); r.code != 0 || r.stdout != "[\n\n]\n" {
		t.Errorf("Got(list after clearing) = %+v, want an empty list", r)
	}
	if r := run(t, st, nil, "--version"); r.stdout != "2.20.0\n" {
		t.Errorf("Got(--version) = %q, want the state's version", r.stdout)
	}
	if r := run(t, st, []string{EnvVersion + "=2.31.1"}, "--version"); r.stdout != "2.31.1\n" {
		t.Errorf("Got(--version) = %q, want the env's version", r.stdout)
	}
	want := [][]string{{"list", "--format", "json"}, {"list", "--format", "json"}, {"list", "--format", "json"}, {"--version"}, {"--version"}}
	if diff := cmp.Diff(want, st.Calls()); diff != "" {
		t.Errorf("Got(Calls) differs (-want +got):\n%s", diff)
	}
	if n := st.CallCount(OpList); n != 3 {
		t.Errorf("Got(CallCount(list)) = %d, want 3", n)
	}
}

func TestRunWithoutState(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	if code := Run([]string{"list"}, nil, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), EnvState) {
		t.Errorf("Got(Run without state) = %d, %q, want 1 naming %s", code, errOut.String(), EnvState)
	}
}

func TestParseVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want version
	}{
		{"2.35.0", version{2, 35}}, {"v1.2", version{1, 2}}, {" 2.31.1\n", version{2, 31}},
		{"SNAPSHOT", version{1 << 20, 0}}, {"2.x", version{1 << 20, 0}}, {"", version{1 << 20, 0}},
	}
	for _, tt := range tests {
		if got := parseVersion(tt.in); got != tt.want {
			t.Errorf("Got(parseVersion(%q)) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
