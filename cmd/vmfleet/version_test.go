package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/internal/buildinfo"
)

// TestVersionOfMakeBuild builds vmfleet with `make build` and runs it: `version --json`
// carries the commit, the commit's date and the tag (git describe) of this checkout, and
// `--version` prints what `version` prints.
func TestVersionOfMakeBuild(t *testing.T) {
	for _, tool := range []string{"make", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not in PATH: %v", tool, err)
		}
	}
	git := func(args ...string) string {
		out, err := exec.Command("git", args...).Output()
		if err != nil {
			t.Skipf("git %s: %v (not a git checkout)", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out))
	}
	commit, describe := git("rev-parse", "HEAD"), git("describe", "--tags", "--always", "--dirty")
	dirty := git("status", "--porcelain", "--untracked-files=no") != ""
	bin := filepath.Join(t.TempDir(), "vmfleet")
	mk := exec.Command("make", "-s", "build", "BIN="+bin)
	mk.Dir = "../.."
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version", "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var got buildinfo.Info
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("Got(version --json) = %q: %v", out, err)
	}
	if got.Version != describe || got.Commit != commit || got.Dirty != dirty {
		t.Errorf("Got(version --json) = %+v, want version %q, commit %q, dirty %t", got, describe, commit, dirty)
	}
	if _, err := time.Parse(time.RFC3339, got.Date); err != nil {
		t.Errorf("Got(date) = %q, want the commit's time (RFC 3339): %v", got.Date, err)
	}
	if !strings.HasPrefix(got.GoVersion, "go") || !strings.Contains(got.Platform, "/") {
		t.Errorf("Got(go_version, platform) = %q, %q, want both", got.GoVersion, got.Platform)
	}
	text, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	flag, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if string(flag) != string(text) || !strings.Contains(string(text), commit) || !strings.HasPrefix(string(text), "vmfleet "+describe+"\n") {
		t.Errorf("Got(--version) = %q, version = %q, want the same text naming %s and %s", flag, text, describe, commit)
	}
}

// TestVersionWithoutLinkerFlags: a plain `go build` (no make, no VCS stamping) still prints a
// well-formed version: "dev" or the module version, never an empty field.
func TestVersionWithoutLinkerFlags(t *testing.T) {
	out, err := exec.Command(buildVMFleet(t), "version", "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var got buildinfo.Info
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("Got(version --json) = %q: %v", out, err)
	}
	if got.Version == "" || got.Commit == "" || got.Date == "" || got.GoVersion == "" {
		t.Errorf("Got(version --json) = %+v, want every field set (\"unknown\" where nothing recorded it)", got)
	}
}
