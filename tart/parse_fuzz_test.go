package tart

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vmfleet/vmfleet/events"
)

// FuzzParseInfo: any bytes give `tart get` info or an error, never a panic;
// sizes are never negative and the state is normalised.
func FuzzParseInfo(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "get-*.json"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"CPU":"4","Memory":8192.5,"Disk":-1,"Running":"yes","State":"Suspended"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := ParseInfo(b)
		if err != nil {
			return
		}
		if info.CPU < 0 || info.Memory < 0 || info.DiskGB < 0 || info.SizeGB < 0 {
			t.Fatalf("Got negative sizes %+v from %q", info, b)
		}
		switch info.State {
		case "", events.VMRunning, events.VMStopped, events.VMSuspended:
		default:
			t.Fatalf("Got state %q from %q, want a normalised one", info.State, b)
		}
	})
}

// FuzzValidNames: whatever name or reference is accepted is safe to hand to
// tart as one argument: no NUL, no newline, no leading '-', no path
// traversal in a local name.
func FuzzValidNames(f *testing.F) {
	for _, s := range []string{"bun-build-macos-14-1.2.16-bootstrap-3.6", "ghcr.io/acme/x:1", "-rf", "../x", "a\x00b", "x@sha256:abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if err := validSource([]string{"clone", s}, s); err != nil {
			return
		}
		if s == "" || s[0] == '-' {
			t.Fatalf("Got %q accepted, want a leading '-' or empty refused", s)
		}
		for i := 0; i < len(s); i++ {
			if s[i] == 0 || s[i] == '\n' || s[i] == '\r' {
				t.Fatalf("Got %q accepted with a control byte", s)
			}
		}
		if !IsDigestRef(s) && filepath.IsAbs(s) {
			t.Fatalf("Got absolute path %q accepted", s)
		}
		if events.ValidateVMName(s) == nil && (s == "." || s == ".." || filepath.Base(s) != s) {
			t.Fatalf("Got local name %q accepted, want no path", s)
		}
	})
}
