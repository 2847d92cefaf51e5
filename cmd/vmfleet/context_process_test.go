package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/sim/buildkitefake"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

// init keeps every test of this package, in process or through the binary
// with the test's environment, off the developer's own client config
// (~/.config/vmfleet/config.yaml): a current context there would give the
// client commands a server or a token the tests do not expect.
func init() {
	_ = os.Setenv(clientConfigEnv, filepath.Join(os.TempDir(), "vmfleet-tests-no-client-config", "config.yaml"))
}

// fleetUnderTest is a running `vmfleet orchestrator` (embedded NATS, the
// fake Buildkite, an API token) and one real agent, mac-01, missing its
// macOS 14 image (it holds an older one): the orchestrator has requested a
// build of it.
type fleetUnderTest struct {
	server, natsURL, tokenFile, buildKey string
}

func startFleetUnderTest(t *testing.T) fleetUnderTest {
	t.Helper()
	bk, err := buildkitefake.New(t.Context(), buildkitefake.WithToken("tok"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bk.Close)
	dir := t.TempDir()
	tokenFile, bkToken := filepath.Join(dir, "api-token"), filepath.Join(dir, "bk-token")
	for f, tok := range map[string]string{tokenFile: "sekret\n", bkToken: "tok\n"} {
		if err := os.WriteFile(f, []byte(tok), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	addr, natsAddr := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	var stderr string
	go func() {
		defer close(done)
		_, _, stderr = run(ctx, "orchestrator", "--log-format", "json", "--nats-listen", natsAddr,
			"--data-dir", filepath.Join(dir, "js"), "--http-addr", addr, "--instance", "ctxtest",
			"--api-token-file", tokenFile, "--release", "14",
			"--buildkite-org", "acme", "--buildkite-api-url", bk.URL(), "--buildkite-token-file", bkToken)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("orchestrator did not stop within 15s of cancel")
		}
	})
	f := fleetUnderTest{server: "http://" + addr, natsURL: "nats://" + natsAddr, tokenFile: tokenFile}
	if err := waitReady(f.server, 20*time.Second); err != nil {
		t.Fatalf("%v; stderr:\n%s", err, stderr)
	}
	// An older image only: the 14 image is missing.
	startAgent(t, f.natsURL, events.DefaultImageSpec(), dir, events.VM{Name: "bun-build-macos-14-1.2.15-bootstrap-3.6", SizeGB: 55})
	deadline := time.Now().Add(20 * time.Second)
	for f.buildKey == "" {
		resp, err := api.NewClient(f.server, "").Builds(t.Context())
		if err == nil {
			for _, r := range resp.Builds {
				if r.Host == "mac-01" && r.URL != "" {
					f.buildKey = r.Key
				}
			}
		}
		if f.buildKey != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no build with a Buildkite URL for mac-01 within 20s (last: %+v, %v)", resp, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return f
}

// client runs the vmfleet binary as an operator's shell would, with a
// home of its own (so the client config is $HOME/.config/vmfleet/config.yaml).
type client struct {
	t    *testing.T
	home string
	env  []string
}

func newClient(t *testing.T) *client {
	buildVMFleet(t) // before any command's deadline starts: the build may be slow
	home := t.TempDir()
	return &client{t: t, home: home, env: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "VMFLEET_LOG_FORMAT=text"}}
}

func (c *client) cmd(ctx context.Context, extraEnv []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, buildVMFleet(c.t), args...)
	cmd.Env = append(append([]string(nil), c.env...), extraEnv...)
	return cmd
}

// run runs vmfleet to its end: stdout, stderr, exit code.
func (c *client) run(extraEnv []string, args ...string) (string, string, int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), 30*time.Second)
	defer cancel()
	cmd := c.cmd(ctx, extraEnv, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		c.t.Fatalf("run vmfleet %v: %v", args, err)
	}
	c.t.Logf("vmfleet %s %s → exit %d\nstdout: %s\nstderr: %s", strings.Join(extraEnv, " "), strings.Join(args, " "), code, stdout.String(), stderr.String())
	return stdout.String(), stderr.String(), code
}

// until runs a command that does not end by itself (vmfleet events) until
// a line of its output contains want, then stops it.
func (c *client) until(want string, args ...string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), 20*time.Second)
	defer cancel()
	cmd := c.cmd(ctx, nil, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if strings.Contains(sc.Text(), want) {
			return
		}
	}
	c.t.Errorf("vmfleet %s ended without a line containing %q; stderr:\n%s", strings.Join(args, " "), want, stderr.String())
}

// TestClientContextsProcess saves contexts through the binary and uses them
// in place of flags, checking flag > env > context for each setting.
func TestClientContextsProcess(t *testing.T) {
	t.Parallel()
	f := startFleetUnderTest(t)
	c := newClient(t)
	dead := "http://" + freeAddr(t) // nothing listens there
	expect := func(name string, env []string, args []string, code int, want ...string) {
		t.Helper()
		stdout, stderr, got := c.run(env, args...)
		if got != code {
			t.Errorf("%s: Got(exit) = %d, want %d", name, got, code)
		}
		for _, w := range want {
			if !strings.Contains(stdout+stderr, w) {
				t.Errorf("%s: Got(output) lacks %q:\n%s%s", name, w, stdout, stderr)
			}
		}
	}
	expect("no contexts", nil, []string{"context", "list"}, 0, "no contexts in "+filepath.Join(c.home, ".config", "vmfleet", "config.yaml"))
	expect("set prod", nil, []string{"context", "set", "prod", "--server", f.server, "--token-file", f.tokenFile, "--nats-url", f.natsURL}, 0, "context prod created")
	expect("set dead", nil, []string{"context", "set", "dead", "--server", dead}, 0, "context dead created")
	expect("set a server without a scheme", nil, []string{"context", "set", "typo", "--server", "orchestrator:8080"}, 2, `--server "orchestrator:8080": want the orchestrator's base URL`)
	expect("set both NATS credentials", nil, []string{"context", "set", "typo", "--nats-creds", "a.creds", "--nats-nkey-seed", "b.nk"}, 2, "nats-creds", "nats-nkey-seed")
	expect("use unknown", nil, []string{"context", "use", "nope"}, 2, `context "nope" is not in`, "it has dead, prod")
	expect("use prod", nil, []string{"context", "use", "prod"}, 0, "current context: prod")
	path := filepath.Join(c.home, ".config", "vmfleet", "config.yaml")
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("Got(client config mode) = %v, %v, want 0600", st.Mode().Perm(), err)
	}
	if st, err := os.Stat(filepath.Dir(path)); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("Got(client config dir mode) = %v, %v, want 0700", st.Mode().Perm(), err)
	}
	expect("list", nil, []string{"context", "list"}, 0, "*        prod", f.server)

	// The context in place of --server, --token-file and --nats-url.
	expect("status", nil, []string{"status"}, 0, "mac-01")
	expect("build list", nil, []string{"build", "list"}, 0, f.buildKey, "https://buildkite.com/acme/build-macos-vm/builds/")
	expect("prune with the context's token", nil, []string{"prune", "--host", "mac-01", "--dry-run", "--now"}, 0, "mac-01")
	c.until("mac-01", "events", "--since", "1h")

	// flag > env > context.
	expect("--context", nil, []string{"status", "--context", "dead"}, 2, "connection refused", `server from context "dead" in `+path)
	expect("VMFLEET_CONTEXT", []string{"VMFLEET_CONTEXT=dead"}, []string{"status"}, 2, "connection refused")
	expect("--context over VMFLEET_CONTEXT", []string{"VMFLEET_CONTEXT=dead"}, []string{"status", "--context", "prod"}, 0, "mac-01")
	expect("flag over context", []string{"VMFLEET_CONTEXT=dead"}, []string{"status", "--server", f.server}, 0, "mac-01")
	expect("env over context", []string{"VMFLEET_SERVER=" + dead}, []string{"status"}, 2, "connection refused")
	expect("flag over env", []string{"VMFLEET_SERVER=" + dead}, []string{"status", "--server", f.server}, 0, "mac-01")
	if _, stderr, _ := c.run([]string{"VMFLEET_SERVER=" + dead}, "status"); strings.Contains(stderr, "server and") || !strings.Contains(stderr, `(token_file from context "prod"`) {
		t.Errorf("Got(error of a server from the environment) = %q, want only the token file traced to the context", stderr)
	}
	expect("token env over the context's file", []string{"VMFLEET_API_TOKEN=wrong"}, []string{"prune", "--host", "mac-01", "--dry-run", "--now"}, 2, "401")
	wrong := filepath.Join(t.TempDir(), "wrong-token")
	if err := os.WriteFile(wrong, []byte("wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	expect("set badtoken", nil, []string{"context", "set", "badtoken", "--server", f.server, "--token-file", wrong}, 0, "context badtoken created")
	expect("a token refused names the context", nil, []string{"prune", "--host", "mac-01", "--dry-run", "--now", "--context", "badtoken"}, 2,
		"401", `server and token_file from context "badtoken" in `+path)
	expect("unknown context", nil, []string{"build", "list", "--context", "nope"}, 2, `context "nope" is not in `+path)
	expect("show", []string{"VMFLEET_SERVER=" + dead}, []string{"context", "show"}, 0, "context: prod (current context; file "+path, "server:", f.server, "(overridden by env VMFLEET_SERVER)", f.natsURL)

	// Another file, by flag and by env.
	other := filepath.Join(t.TempDir(), "other.yaml")
	expect("set in another file", nil, []string{"context", "set", "solo", "--server", f.server, "--client-config", other}, 0, "context solo created in "+other)
	expect("use in another file", []string{clientConfigEnv + "=" + other}, []string{"context", "use", "solo"}, 0, "current context: solo")
	expect("status from another file", []string{clientConfigEnv + "=" + other, "VMFLEET_CONTEXT="}, []string{"status"}, 0, "mac-01")

	// Delete the current context: back to the defaults.
	expect("delete", nil, []string{"context", "delete", "prod"}, 0, "context prod deleted", "no context is current now")
	expect("show none", nil, []string{"context", "show"}, 0, "no context in use")
	expect("status without a context", nil, []string{"status", "--server", dead}, 2, "connection refused")
}

// TestBuildListProcess: build list shows each build's Buildkite URL and
// filters by state and host on the server.
func TestBuildListProcess(t *testing.T) {
	t.Parallel()
	f := startFleetUnderTest(t)
	c := newClient(t)
	srv := []string{"--server", f.server}
	for _, tt := range []struct {
		name    string
		args    []string
		code    int
		want    []string
		without []string
	}{
		{name: "all", args: nil, want: []string{"KEY", "URL", f.buildKey, "https://buildkite.com/acme/build-macos-vm/builds/"}},
		{name: "live states", args: []string{"--state", "requested,scheduled,running"}, want: []string{f.buildKey}},
		{name: "another state", args: []string{"--state", "failed", "--state", "blocked"}, want: []string{"(none)"}, without: []string{f.buildKey}},
		{name: "its host", args: []string{"--host", "MAC-01"}, want: []string{f.buildKey}},
		{name: "another host", args: []string{"--host", "mac-02"}, want: []string{"(none)"}, without: []string{f.buildKey}},
		{name: "unknown state", args: []string{"--state", "green"}, code: 2, want: []string{`--state "green": want one of requested, scheduled, running, passed, failed, canceled, blocked`}},
		{name: "json", args: []string{"--json", "--host", "mac-01"}, want: []string{`"url": "https://buildkite.com/acme/build-macos-vm/builds/`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := c.run(nil, append(append([]string{"build", "list"}, srv...), tt.args...)...)
			if code != tt.code {
				t.Errorf("Got(exit) = %d, want %d", code, tt.code)
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout+stderr, w) {
					t.Errorf("Got(output) lacks %q:\n%s%s", w, stdout, stderr)
				}
			}
			for _, w := range tt.without {
				if strings.Contains(stdout, w) {
					t.Errorf("Got(output) has %q:\n%s", w, stdout)
				}
			}
		})
	}
}

// TestDynamicCompletionProcess asks the binary's hidden __complete command,
// as the shells' scripts do, against a running orchestrator found through a
// context; and against none, where it offers nothing and says nothing.
func TestDynamicCompletionProcess(t *testing.T) {
	t.Parallel()
	f := startFleetUnderTest(t)
	c := newClient(t)
	if _, _, code := c.run(nil, "context", "set", "prod", "--server", f.server, "--token-file", f.tokenFile); code != 0 {
		t.Fatal("context set failed")
	}
	if _, _, code := c.run(nil, "context", "use", "prod"); code != 0 {
		t.Fatal("context use failed")
	}
	if _, _, code := c.run(nil, "spec", "set", "--bun", "1.2.17", "--reason", "completion test", "--yes"); code != 0 {
		t.Fatal("spec set through the context failed")
	}
	dead := "http://" + freeAddr(t)
	if _, _, code := c.run(nil, "context", "set", "dead", "--server", dead); code != 0 {
		t.Fatal("context set failed")
	}
	// completions is __complete's answer: one candidate per line (tab, then
	// its description), then ":<directive>".
	completions := func(env []string, args ...string) ([]string, string, time.Duration) {
		start := time.Now()
		stdout, stderr, code := c.run(env, append([]string{"__complete"}, args...)...)
		took := time.Since(start)
		if code != 0 {
			t.Errorf("Got(__complete %v exit) = %d, want 0", args, code)
		}
		var cands []string
		for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
			if line == "" || strings.HasPrefix(line, ":") {
				continue
			}
			cands = append(cands, strings.SplitN(line, "\t", 2)[0])
		}
		return cands, stderr, took
	}
	for _, tt := range []struct {
		name string
		env  []string
		args []string
		want []string
	}{
		{"host forget HOST", nil, []string{"host", "forget", ""}, []string{"mac-01"}},
		{"host drain HOST", nil, []string{"host", "drain", "m"}, []string{"mac-01"}},
		{"status HOST", nil, []string{"status", ""}, []string{"mac-01"}},
		{"status HOST, one only", nil, []string{"status", "mac-01", ""}, nil},
		{"host resume HOST", nil, []string{"host", "resume", ""}, []string{"mac-01"}},
		{"prune --host", nil, []string{"prune", "--host", "mac"}, []string{"mac-01"}},
		{"build list --host", nil, []string{"build", "list", "--host", ""}, []string{"mac-01"}},
		{"prune --vm of the --host", nil, []string{"prune", "--host", "mac-01", "--vm", ""}, []string{"bun-build-macos-14-1.2.15-bootstrap-3.6"}},
		{"prune --vm without a --host", nil, []string{"prune", "--vm", ""}, nil},
		{"events --subject", nil, []string{"events", "--subject", ""}, []string{"host.*.health", "build.>", "prune.>", "fleet.>", "cmd.>"}},
		{"build list --state", nil, []string{"build", "list", "--state", ""}, api.BuildStates()},
		{"--log-level", nil, []string{"status", "--log-level", ""}, []string{"debug", "info", "warn", "error"}},
		{"--log-format", nil, []string{"events", "--log-format", ""}, []string{"auto", "text", "json"}},
		{"demo --rollout", nil, []string{"demo", "--rollout", ""}, []string{"immediate", "staged"}},
		{"--context", nil, []string{"status", "--context", ""}, []string{"dead", "prod"}},
		{"context use NAME", nil, []string{"context", "use", "p"}, []string{"prod"}},
		{"server by env", []string{"VMFLEET_CONTEXT=dead", "VMFLEET_SERVER=" + f.server}, []string{"host", "forget", ""}, []string{"mac-01"}},
		{"server by flag", []string{"VMFLEET_CONTEXT=dead"}, []string{"host", "forget", "--server", f.server, ""}, []string{"mac-01"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, _, _ := completions(tt.env, tt.args...)
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("Got(completions) = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("build retry KEY", func(t *testing.T) {
		// The spec set above starts a build of another key: compare with
		// the keys the API lists after the completion.
		for _, prefix := range []string{"", f.buildKey[:len(f.buildKey)-3]} {
			got, _, _ := completions(nil, "build", "retry", prefix)
			resp, err := api.NewClient(f.server, "").Builds(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, r := range resp.Builds {
				keys = append(keys, r.Key)
			}
			if !slices.Contains(got, f.buildKey) || len(got) == 0 {
				t.Errorf("Got(completions of %q) = %v, want %s among them", prefix, got, f.buildKey)
			}
			for _, k := range got {
				if !slices.Contains(keys, k) || !strings.HasPrefix(k, prefix) {
					t.Errorf("Got(completion %q of %q), want only keys the API lists (%v) starting so", k, prefix, keys)
				}
			}
		}
	})
	t.Run("spec rollback REVISION", func(t *testing.T) {
		hist, err := api.NewClient(f.server, "").SpecHistory(t.Context(), 0)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, e := range hist.Revisions {
			if e.Key == events.SpecKey && !e.Deleted {
				want = append(want, strconv.FormatUint(e.Revision, 10))
			}
		}
		got, _, _ := completions(nil, "spec", "rollback", "")
		if len(want) < 2 || strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("Got(revisions) = %v, want %v (at least the boot's and the set's)", got, want)
		}
	})
	t.Run("unreachable server", func(t *testing.T) {
		for _, args := range [][]string{{"host", "forget", ""}, {"build", "retry", ""}, {"spec", "rollback", ""}, {"prune", "--host", "mac-01", "--vm", ""}} {
			got, stderr, _ := completions([]string{"VMFLEET_CONTEXT=dead"}, args...)
			if len(got) != 0 || strings.Contains(stderr, "vmfleet:") {
				t.Errorf("Got(__complete %v against nothing) = %v, stderr %q, want nothing, quietly", args, got, stderr)
			}
		}
	})
	t.Run("server that never answers", func(t *testing.T) {
		// Accepts connections and says nothing: Tab gives up after
		// completionTimeout, not the API client's 30 s.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go func() {
			for {
				conn, err := l.Accept()
				if err != nil {
					return
				}
				defer conn.Close()
			}
		}()
		got, stderr, took := completions([]string{"VMFLEET_SERVER=http://" + l.Addr().String(), "VMFLEET_CONTEXT=dead"}, "host", "forget", "")
		if len(got) != 0 || strings.Contains(stderr, "vmfleet:") || took >= api.DefaultTimeout-5*time.Second {
			t.Errorf("Got(__complete against a silent server) = %v, stderr %q, in %s, want nothing, quietly, well before %s", got, stderr, took, api.DefaultTimeout)
		}
	})
}
