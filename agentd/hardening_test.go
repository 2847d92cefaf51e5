package agentd

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

// TestHostileNamesNeverReachTart sends pull and prune commands naming VMs and
// references a shell or tart's option parser would misread: each is refused
// with bad_request and tart is never asked to delete, clone or pull.
func TestHostileNamesNeverReachTart(t *testing.T) {
	t.Parallel()
	f := tarttest.NewFake("")
	old := name("14", "1.2.15", "3.6") // ours and outdated: a prune of it alone would be allowed
	f.Add(local(old))
	a, nc, _ := running(t, slowConfig(t), f)
	good := name("14", "1.2.16", "3.6")
	hostile := []string{
		"../" + good, good + "/../../etc", "-rf", "--insecure", good + "; rm -rf ~", "$(reboot)", "`id`",
		good + "\nrm -rf /", good + " " + good, "", "ubuntu", good + "\x00", "*", good + "|sh",
	}
	refs := []string{"--insecure", "-v", "ghcr.io/a/b:1; rm -rf ~", "ghcr.io/a/b:$(id)", "ghcr.io/a b:1", "file:///etc/passwd",
		"../../etc/x", "ghcr.io/../x:1", "ghcr.io//x:1", "ghcr.io/.hidden/x:1", ""}
	type tc struct {
		name string
		verb string
		req  any
	}
	var tests []tc
	for _, n := range hostile {
		tests = append(tests, tc{"pull name " + n, events.VerbPull, events.PullRequest{Source: "ghcr.io/acme/macos:14", Name: n}})
		if n != "ubuntu" { // a valid name, not ours: a prune skips it (the cleanup rules), a pull refuses it
			tests = append(tests, tc{"prune " + n, events.VerbPrune, events.PruneRequest{VMs: []string{old, n}, Now: true}})
		}
	}
	for _, ref := range refs {
		tests = append(tests, tc{"pull source " + ref, events.VerbPull, events.PullRequest{Source: ref, Name: good}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, body := range [][]byte{command(t, tt.verb, tt.req), mustJSON(t, tt.req)} {
				r := request(t, nc, cmdSubject(a, tt.verb), body)
				if r.OK || r.Code != events.CodeBadRequest {
					t.Errorf("Got(reply) = ok %v code %q error %q, want bad_request", r.OK, r.Code, r.Error)
				}
			}
		})
	}
	for _, op := range []tarttest.Op{tarttest.OpDelete, tarttest.OpClone, tarttest.OpPull, tarttest.OpRename} {
		if n := f.Calls(op); n != 0 {
			t.Errorf("Got(tart %s calls) = %d, want 0", op, n)
		}
	}
	if !f.Has(old) {
		t.Errorf("Got(%s) deleted, want it kept: the request naming it was refused as a whole", old)
	}
}

// TestStateFilesPrivateAndAtomic: both state files are 0600 whatever was
// there before and whatever the umask left, and a write never leaves a
// temporary file or a half-written state behind.
func TestStateFilesPrivateAndAtomic(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	if err := os.MkdirAll(cfg.StateDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{forcedFile, lastFile} {
		if err := os.WriteFile(filepath.Join(cfg.StateDir, f), []byte(`{"state":"ready"}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a := newAgent(t, cfg, tarttest.NewFake(""))
	if _, err := a.SetForced(events.ForceRequest{State: events.ForcedNotReady, TTL: events.Duration(time.Hour), By: "ops"}); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, a) // writes last-check.json
	for _, f := range []string{forcedFile, lastFile} {
		st, err := os.Stat(filepath.Join(cfg.StateDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("Got(%s mode) = %v, want 0600 (it was 0644 before)", f, st.Mode().Perm())
		}
	}
	if f, err := a.Forced(); err != nil || f == nil || f.State != events.ForcedNotReady {
		t.Errorf("Got(Forced) = %+v, %v, want not_ready", f, err)
	}
	entries, err := os.ReadDir(cfg.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != forcedFile && e.Name() != lastFile && e.Name() != lockName(t, cfg) {
			t.Errorf("Got(stray file %s) in the state dir, want only the state files", e.Name())
		}
	}
}

// lockName is the host lock's file name, if the agent keeps it in the state dir.
func lockName(t *testing.T, cfg Config) string {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(cfg.StateDir, "*.lock"))
	if len(matches) > 0 {
		return filepath.Base(matches[0])
	}
	return ""
}
