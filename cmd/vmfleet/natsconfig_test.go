package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/vmfleet/vmfleet/internal/natsauth"
)

func runVMFleet(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb strings.Builder
	code = execute(context.Background(), append(args, "--log-format", "json"), &out, &errb)
	t.Logf("vmfleet %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out.String(), errb.String())
	return code, out.String(), errb.String()
}

func readSeed(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, natsauth.CredsDir, name+natsauth.SeedExt))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestNATSConfigWritesCheckedConfigAndKeepsSeeds(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nats")
	hostsFile := filepath.Join(t.TempDir(), "hosts.txt")
	if err := os.WriteFile(hostsFile, []byte("# the rack\nmac-03\n\nmac-04  # spare\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"nats-config", "--hosts", "mac-01,mac-02", "--hosts-file", hostsFile, "--out", dir,
		"--consumer", "dashboard", "--jetstream-dir", filepath.Join(dir, "js"), "--listen", "127.0.0.1:4222"}
	code, stdout, _ := runVMFleet(t, args...)
	if code != 0 {
		t.Fatalf("Got(exit) = %d, want 0", code)
	}
	conf := filepath.Join(dir, natsauth.DefaultConfigName)
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatalf("Got(ProcessConfigFile) = %v, want nil", err)
	}
	// orchestrator + dashboard + four hosts
	if len(opts.Nkeys) != 6 {
		t.Errorf("Got(NKey users) = %d, want 6", len(opts.Nkeys))
	}
	for _, want := range []string{"mac-04", "created", "_INBOX.mac-03", "--nats-nkey-seed"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("Got(stdout) lacks %q", want)
		}
	}
	before := map[string]string{}
	for _, h := range []string{"orchestrator", "dashboard", "mac-01", "mac-02", "mac-03", "mac-04"} {
		before[h] = readSeed(t, dir, h)
	}

	code, stdout, _ = runVMFleet(t, append(args, "--rotate", "mac-02")...)
	if code != 0 {
		t.Fatalf("Got(exit of re-run) = %d, want 0", code)
	}
	if !strings.Contains(stdout, "rotated") || !strings.Contains(stdout, "kept") {
		t.Errorf("Got(stdout of re-run) lacks kept/rotated")
	}
	for h, seed := range before {
		if changed := readSeed(t, dir, h) != seed; changed != (h == "mac-02") {
			t.Errorf("Got(seed of %s changed) = %v, want %v", h, changed, h == "mac-02")
		}
	}
	if err := natsauth.Validate(conf, nil); err != nil {
		t.Errorf("Got(Validate after re-run) = %v, want nil", err)
	}
}

func TestNATSConfigCluster(t *testing.T) {
	dir := t.TempDir()
	code, _, _ := runVMFleet(t, "nats-config", "--hosts", "mac-01", "--out", dir, "--server-name", "n1", "--config-name", "n1.conf",
		"--cluster", "vmfleet", "--cluster-listen", "127.0.0.1:6222",
		"--routes", "nats-route://127.0.0.1:6222,nats-route://127.0.0.1:6223", "--routes", "nats-route://127.0.0.1:6224")
	if code != 0 {
		t.Fatalf("Got(exit) = %d, want 0", code)
	}
	opts, err := server.ProcessConfigFile(filepath.Join(dir, "n1.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if opts.ServerName != "n1" || len(opts.Routes) != 3 || opts.Cluster.Username != natsauth.RouteUser {
		t.Errorf("Got(parsed cluster) = name %q, %d routes, route user %q; want n1, 3, %s", opts.ServerName, len(opts.Routes), opts.Cluster.Username, natsauth.RouteUser)
	}
}

func TestNATSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "no out", args: []string{"--hosts", "mac-01"}, want: "--out"},
		{name: "no hosts", args: []string{"--out", dir}, want: "no hosts"},
		{name: "missing hosts file", args: []string{"--out", dir, "--hosts-file", filepath.Join(dir, "nope")}, want: "hosts file"},
		{name: "same token twice", args: []string{"--out", dir, "--hosts", "Mac-01,mac-01"}, want: "duplicate identity"},
		{name: "rotate a stranger", args: []string{"--out", dir, "--hosts", "mac-01", "--rotate", "mac-09"}, want: "unknown identity"},
		{name: "cluster without name", args: []string{"--out", dir, "--hosts", "mac-01", "--cluster", "c", "--routes", "nats-route://a:6222"}, want: "server name"},
		{name: "route with password", args: []string{"--out", dir, "--hosts", "mac-01", "--server-name", "n1", "--cluster", "c", "--routes", "nats-route://u:p@a:6222"}, want: "credentials"},
		{name: "bad prefix", args: []string{"--out", dir, "--hosts", "mac-01", "--subject-prefix", "a.*"}, want: "prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runVMFleet(t, append([]string{"nats-config"}, tt.args...)...)
			if code != 2 || !strings.Contains(stderr, tt.want) {
				t.Errorf("Got(exit, stderr) = %d, %q; want 2 and a message naming %q", code, stderr, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, natsauth.DefaultConfigName)); err == nil {
		t.Error("a failed run wrote a configuration")
	}
}
