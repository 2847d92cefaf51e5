package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/agentd"
	"github.com/vmfleet/vmfleet/cleanup"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/internal/sim/buildkitefake"
	"github.com/vmfleet/vmfleet/orchestrator/api"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

// TestSpecAndPruneCommands runs `vmfleet orchestrator` (embedded NATS, the
// fake Buildkite) and one real agent over in-memory tart, then drives them
// with `spec show`, `spec set` and `prune`.
func TestSpecAndPruneCommands(t *testing.T) {
	bk, err := buildkitefake.New(t.Context(), buildkitefake.WithToken("tok"))
	if err != nil {
		t.Fatal(err)
	}
	defer bk.Close()
	dir := t.TempDir()
	tokenFile, bkToken := filepath.Join(dir, "api-token"), filepath.Join(dir, "bk-token")
	for f, tok := range map[string]string{tokenFile: "sekret\n", bkToken: "tok\n"} {
		if err := os.WriteFile(f, []byte(tok), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	addr, natsAddr := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int, 1)
	var stderr string
	go func() {
		var code int
		code, _, stderr = run(ctx, "orchestrator", "--log-format", "json", "--nats-listen", natsAddr,
			"--data-dir", filepath.Join(dir, "js"), "--http-addr", addr, "--instance", "prunetest",
			"--api-token-file", tokenFile, "--release", "14",
			"--buildkite-org", "acme", "--buildkite-api-url", bk.URL(), "--buildkite-token-file", bkToken)
		done <- code
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("orchestrator did not stop within 15s of cancel")
		}
	})
	server := "http://" + addr
	if err := waitReady(server, 20*time.Second); err != nil {
		t.Fatalf("%v; stderr:\n%s", err, stderr)
	}
	im := events.DefaultImageSpec()
	older := im
	older.BunVersion = "1.2.15"
	fake := startAgent(t, "nats://"+natsAddr, im, dir,
		events.VM{Name: im.ImageName("14"), SizeGB: 60}, events.VM{Name: older.ImageName("14"), SizeGB: 55})
	waitHost(t, server, "mac-01")

	op := []string{"--server", server, "--token-file", tokenFile}
	steps := []struct {
		name    string
		args    []string
		code    int
		want    []string
		oneLine bool // a refusal: one line on stderr, nothing on stdout
	}{
		{name: "spec show", args: []string{"spec", "show", "--server", server}, want: []string{"bootstrap:", "3.6", "image macOS 14:", im.ImageName("14")}},
		{name: "spec set without a change", args: append([]string{"spec", "set"}, op...), code: 2, want: []string{"nothing to set"}},
		{name: "prune outside the window", args: append([]string{"prune", "--host", "mac-01"}, op...),
			want: []string{older.ImageName("14"), "bun_outdated", "outside_window", "no cleanup window is open (none is configured); use --now"}},
		{name: "dry run", args: append([]string{"prune", "--host", "mac-01", "--now", "--dry-run"}, op...), want: []string{older.ImageName("14"), "planned", "bun_outdated", "55 GB"}},
		{name: "prune without a token", args: []string{"prune", "--host", "mac-01", "--now", "--server", server}, code: 2, want: []string{"401"}},
		{name: "prune now", args: append([]string{"prune", "--host", "mac-01", "--now"}, op...), want: []string{older.ImageName("14"), "deleted", "bun_outdated"}},
		{name: "prune an unknown host", args: append([]string{"prune", "--host", "mac-99", "--now"}, op...), code: 2, want: []string{"no such host", "404"}},
		{name: "spec set dry run", args: append([]string{"spec", "set", "--bootstrap", "3.7", "--dry-run"}, op...),
			want: []string{"spec set: bootstrap 3.6 → 3.7", "RELEASE", "1 of 1 (100%)", "needs confirmation (--yes)", "dry run: nothing written"}},
		{name: "spec set refused", args: append([]string{"spec", "set", "--bootstrap", "3.7"}, op...), code: 1,
			want: []string{"1 of 1 (100%)", "refused: this change makes 1 of 1 hosts (100%) not ready", "rerun with --yes"}},
		{name: "spec show after the refusal", args: []string{"spec", "show", "--server", server, "--json"}, want: []string{`"bootstrap_version": "3.6"`}},
		{name: "spec promote with nothing staged", args: append([]string{"spec", "promote", "--dry-run"}, op...), code: 2, want: []string{"404"}},
		{name: "spec set", args: append([]string{"spec", "set", "--bootstrap", "3.7", "--by", "tester", "--yes"}, op...),
			want: []string{"spec set: bootstrap 3.6 → 3.7", "bootstrap:", "3.7", "by tester"}},
		{name: "spec set invalid", args: append([]string{"spec", "set", "--bun", "1-2"}, op...), code: 2, want: []string{"images.bun_version", "400"}},
		{name: "spec set release abc", args: append([]string{"spec", "set", "--releases", "abc"}, op...), code: 2, oneLine: true,
			want: []string{`spec: images.releases[0]: "abc" is not a macOS release number (digits, optionally .digits, e.g. 14 or 15.1)`}},
		{name: "spec set bun 1.2.x", args: append([]string{"spec", "set", "--bun", "1.2.x"}, op...), code: 2, oneLine: true,
			want: []string{`spec: images.bun_version: "1.2.x" is not a semantic version (major.minor.patch, e.g. 1.2.16)`, "400"}},
		{name: "spec set no releases", args: append([]string{"spec", "set", "--releases", ""}, op...), code: 2, oneLine: true,
			want: []string{"spec: images.releases: at least one release is required"}},
		{name: "spec show after", args: []string{"spec", "show", "--server", server, "--json"}, want: []string{`"bootstrap_version": "3.7"`}},
		// mac-01 lacks the 3.7 image: promoting 3.8 makes no host not ready.
		{name: "spec stage", args: append([]string{"spec", "stage", "--bootstrap", "3.8"}, op...), want: []string{"staged spec:"}},
		{name: "spec promote dry run", args: append([]string{"spec", "promote", "--dry-run"}, op...),
			want: []string{"spec promote: bootstrap 3.7 → 3.8", "0 of 1 (0%)", "dry run: nothing written"}},
		{name: "spec promote", args: append([]string{"spec", "promote", "--by", "tester"}, op...),
			want: []string{"spec promote: bootstrap 3.7 → 3.8", "spec in force:", "bootstrap:", "3.8"}},
		{name: "spec set with a reason", args: append([]string{"spec", "set", "--bun", "1.2.17", "--by", "alice", "--reason", "bun bump"}, op...),
			want: []string{"bun:", "1.2.17", "by alice", "reason:", "bun bump"}},
		{name: "spec history", args: []string{"spec", "history", "--server", server},
			want: []string{"REV", "(in force)", "current", "alice", "bun bump", "bun 1.2.16 → 1.2.17", "tester", "bootstrap 3.7 → 3.8"}},
		{name: "spec history --limit 1 --json", args: []string{"spec", "history", "--server", server, "--limit", "1", "--json"},
			want: []string{`"reason": "bun bump"`, `"changed": "bun 1.2.16 → 1.2.17"`}},
		{name: "spec rollback", args: append([]string{"spec", "rollback", "--reason", "bad bun"}, op...),
			want: []string{"bun:", "1.2.16", "bootstrap:", "3.8", "reason:", "rollback to revision", ": bad bun"}},
		{name: "spec rollback of an unknown revision", args: append([]string{"spec", "rollback", "999"}, op...), code: 2,
			want: []string{"revision 999 is not in the spec's history", "can be restored", "404"}},
		{name: "spec rollback of a bad revision", args: append([]string{"spec", "rollback", "latest"}, op...), code: 2,
			want: []string{`revision "latest": want a revision number`}},
		{name: "host forget without a token", args: []string{"host", "forget", "mac-01", "--server", server}, code: 2, want: []string{"401"}},
		{name: "host forget an unknown host", args: append([]string{"host", "forget", "mac-99"}, op...), code: 2, want: []string{"no such host", "404"}},
		{name: "host forget", args: append([]string{"host", "forget", "mac-01", "--by", "alice", "--reason", "retired"}, op...),
			want: []string{"forgot mac-01 (last seen "}},
	}
	for _, st := range steps {
		code, out, errOut := run(t.Context(), st.args...)
		if code != st.code {
			t.Errorf("Got(%s: exit) = %d, want %d; stdout:\n%s\nstderr:\n%s", st.name, code, st.code, out, errOut)
		}
		for _, w := range st.want {
			if !strings.Contains(out+errOut, w) {
				t.Errorf("Got(%s: output) = %q, want it to contain %q", st.name, out+errOut, w)
			}
		}
		if st.oneLine && (out != "" || strings.Count(strings.TrimSuffix(errOut, "\n"), "\n") != 0) {
			t.Errorf("Got(%s: stdout %q, stderr %q), want one line on stderr only", st.name, out, errOut)
		}
	}
	if fake.Has(older.ImageName("14")) || !fake.Has(im.ImageName("14")) {
		t.Errorf("Got(VMs after prune --now) = %v, want only %s", fake.Names(), im.ImageName("14"))
	}
}

// startAgent runs a real agent for host mac-01 over in-memory tart holding vms.
func startAgent(t *testing.T, natsURL string, im events.ImageSpec, dir string, vms ...events.VM) *tarttest.Fake {
	t.Helper()
	fake := tarttest.NewFake("")
	fake.Add(vms...)
	conn, err := bus.Connect(bus.ConnConfig{URLs: []string{natsURL}, Name: "agent mac-01"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := agentd.New(agentd.Config{Hostname: "mac-01", Images: im, TartHome: filepath.Join(dir, "tart"),
		StateDir: filepath.Join(dir, "agent"), Interval: time.Hour, TartTimeout: 5 * time.Second}, fake, agentd.WithConn(conn))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
		conn.Close()
	})
	return fake
}

// waitHost waits until the orchestrator knows host.
func waitHost(t *testing.T, server, host string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, out, _ := run(t.Context(), "status", "--server", server)
		if code == 0 && strings.Contains(out, host) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("orchestrator did not see %s within 20s", host)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPrintPrune(t *testing.T) {
	now := time.Date(2025, 3, 2, 1, 30, 0, 0, time.UTC)
	old := "bun-build-macos-14-1.2.15-bootstrap-3.6"
	kept := cleanup.Result{Keep: []cleanup.Decision{
		{VM: old, Release: "14", Reason: cleanup.ReasonBunOutdated, Rule: cleanup.RuleOutsideWindow},
		{VM: "bun-build-macos-14-1.2.16-bootstrap-3.6", Release: "14", Rule: cleanup.RuleExpectedImage},
	}}
	tests := []struct {
		name string
		resp api.PruneHostResponse
		req  api.PruneHostRequest
		want string
		exit bool
	}{
		{name: "outside the window", resp: api.PruneHostResponse{Host: "mac-01", Plan: kept,
			Window: cleanup.WindowState{Opens: now.Add(90 * time.Minute)}},
			want: "VM                                       OUTDATED      KEPT BY\n" +
				old + "  bun_outdated  outside_window\n\n" +
				"mac-01: nothing sent: no cleanup window is open (the next opens at 2025-03-02 03:00Z, in 1h30m0s); use --now to prune anyway\n"},
		{name: "nothing outdated", resp: api.PruneHostResponse{Host: "mac-01"}, want: "mac-01: nothing to prune\n"},
		{name: "outcomes", resp: api.PruneHostResponse{Host: "mac-01", Sent: true, Outcomes: []events.PruneOutcome{
			{VM: old, Result: events.PruneDeleted, Reason: "bun_outdated", SizeGB: 55},
			{VM: "bun-build-macos-14-1.2.14-bootstrap-3.6", Result: events.PruneSkipped, Reason: "busy"},
			{VM: "bun-build-macos-14-1.2.13-bootstrap-3.6", Result: events.PruneFailed, Reason: "tart delete: permission denied"},
		}}, exit: true,
			want: "VM                                       RESULT   REASON                          SIZE\n" +
				old + "  deleted  bun_outdated                    55 GB\n" +
				"bun-build-macos-14-1.2.14-bootstrap-3.6  skipped  busy                            -\n" +
				"bun-build-macos-14-1.2.13-bootstrap-3.6  failed   tart delete: permission denied  -\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := printPrune(&b, tt.resp, tt.req, now); err != nil {
				t.Fatal(err)
			}
			if got := b.String(); got != tt.want {
				t.Errorf("Got(printPrune) =\n%s\nwant\n%s", got, tt.want)
			}
			if got := pruneExit(tt.resp) != nil; got != tt.exit {
				t.Errorf("Got(pruneExit != nil) = %v, want %v", got, tt.exit)
			}
		})
	}
}
