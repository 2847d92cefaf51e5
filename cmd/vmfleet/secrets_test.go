package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"github.com/vmfleet/vmfleet/agentd/bkagent/bkagenttest"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
	"github.com/vmfleet/vmfleet/internal/sim/buildkitefake"
	"github.com/vmfleet/vmfleet/orchestrator/api"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

// secretsBuffer collects a process's output.
type secretsBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *secretsBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *secretsBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// secretsRun is one run of the scenario: the secrets, where everything
// printed or sent went, and the processes.
type secretsRun struct {
	t       *testing.T
	dir     string
	secrets map[string]string // what → value
	server  string            // the orchestrator's API
	natsURL string
	outputs map[string]*secretsBuffer
	procs   []*exec.Cmd
}

func (r *secretsRun) file(name, content string) string {
	r.t.Helper()
	p := filepath.Join(r.dir, name)
	if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
		r.t.Fatal(err)
	}
	return p
}

func (r *secretsRun) out(name string) *secretsBuffer {
	b := &secretsBuffer{}
	r.outputs[name] = b
	return b
}

// start runs the vmfleet binary in the background; its output is collected
// under name.
func (r *secretsRun) start(name string, env []string, args ...string) *exec.Cmd {
	r.t.Helper()
	cmd := exec.Command(buildVMFleet(r.t), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + r.dir}, env...)
	cmd.Stdout, cmd.Stderr = r.out(name+" stdout"), r.out(name+" stderr")
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.procs = append(r.procs, cmd)
	r.t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

// runCLI runs the vmfleet binary to completion (30 s at most).
func (r *secretsRun) runCLI(name string, env []string, args ...string) int {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, buildVMFleet(r.t), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + r.dir}, env...)
	cmd.Stdout, cmd.Stderr = r.out(name+" stdout"), r.out(name+" stderr")
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		r.t.Fatalf("%s: %v", name, err)
	}
	return 0
}

// stop sends SIGTERM to every process and waits for them (20 s at most).
func (r *secretsRun) stop() {
	for _, p := range r.procs {
		_ = p.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range r.procs {
		done := make(chan struct{})
		go func() { _ = p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			r.t.Errorf("%v did not stop within 20s of SIGTERM", p.Args[:2])
			_ = p.Process.Kill()
		}
	}
}

// http sends one request and records the whole answer (status, headers, body).
func (r *secretsRun) http(method, path, token string, body []byte, hdr map[string]string) int {
	r.t.Helper()
	req, err := http.NewRequest(method, r.server+path, bytes.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	w := r.outputs["http"]
	fmt.Fprintf(w, "%s %s → %s\n", method, path, resp.Status)
	for k, vs := range resp.Header {
		fmt.Fprintf(w, "%s: %s\n", k, strings.Join(vs, ", "))
	}
	fmt.Fprintf(w, "%s\n\n", b)
	return resp.StatusCode
}

func secretsWaitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSecretsNeverLeak runs the orchestrator and an agent (supervising a
// buildkite-agent) with known secrets from files and the environment,
// drives auth failures, a forged and a replayed webhook, Buildkite calls and
// refused configurations, then greps every log line (JSON and text), every
// HTTP answer and every NATS message for the secrets.
func TestSecretsNeverLeak(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) { secretsScenario(t, format) })
	}
}

func secretsScenario(t *testing.T, format string) {
	other := map[string]string{"json": "text", "text": "json"}[format]
	r := &secretsRun{t: t, dir: t.TempDir(), outputs: map[string]*secretsBuffer{}, secrets: map[string]string{
		"buildkite api token": "bk-api-SECRET-7c1e9a", "api token": "api-SECRET-9f2a61", "read token": "read-SECRET-44b0c3",
		"webhook secret": "wh-hmac-SECRET-5d8e", "orchestrator nats password": "nats-orch-SECRET-11aa",
		"agent nats password": "nats-agent-SECRET-22bb", "observer nats password": "nats-obs-SECRET-33cc",
		"wrong nats password": "nats-wrong-SECRET-44dd", "buildkite agent token": "bk-agent-SECRET-55ee",
		"url password": "url-pw-SECRET-66ff", "env flag secret": "env-flag-SECRET-77aa",
	}}
	r.out("http")
	s := r.secrets

	bk, err := buildkitefake.New(t.Context(), buildkitefake.WithToken(s["buildkite api token"]))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bk.Close)
	bk.AddAgent("acme", buildkitefake.Agent{Name: "mac-sec-1", Hostname: "mac-sec", MetaData: []string{"queue=darwin"}})

	natsAddr := freeAddr(t)
	r.natsURL = "nats://" + natsAddr
	serverConf := r.file("nats.conf", fmt.Sprintf(`authorization {
  users = [
    {user: orch, password: %q}
    {user: agent, password: %q}
    {user: observer, password: %q}
  ]
}`, s["orchestrator nats password"], s["agent nats password"], s["observer nats password"]))
	httpAddr := freeAddr(t)
	r.server = "http://" + httpAddr
	r.start("orchestrator", []string{"VMFLEET_NATS_PASSWORD=" + s["orchestrator nats password"]},
		"orchestrator", "--log-format", format, "--log-level", "debug", "--instance", "sec",
		"--nats-listen", natsAddr, "--nats-server-config", serverConf, "--nats-user", "orch",
		"--data-dir", filepath.Join(r.dir, "js"), "--http-addr", httpAddr, "--tick", "1s",
		"--buildkite-org", "acme", "--buildkite-api-url", bk.URL(), "--buildkite-token-file", r.file("bk-token", s["buildkite api token"]),
		"--buildkite-agents-interval", "1s", "--api-token-file", r.file("api-token", s["api token"]),
		"--api-read-token-file", r.file("read-token", s["read token"]),
		"--webhook-secret-file", r.file("wh-secret", s["webhook secret"]), "--release", "14")
	secretsWaitFor(t, "orchestrator ready", 30*time.Second, func() bool {
		_, err := api.NewClient(r.server, "").Ready(t.Context())
		return err == nil
	})

	msgs := r.observe()
	r.startAgent(other)
	secretsWaitFor(t, "host mac-sec in the read API", 30*time.Second, func() bool {
		_, err := api.NewClient(r.server, s["read token"]).Host(t.Context(), "mac-sec")
		return err == nil
	})
	r.driveHTTP()
	r.driveCLI()
	secretsWaitFor(t, "a build and an agent listing at Buildkite", 30*time.Second, func() bool {
		return len(bk.Builds()) > 0 && bk.RequestCount(http.MethodGet, buildkitefake.RouteAgents, http.StatusOK) > 0
	})
	secretsWaitFor(t, "the supervised buildkite-agent's output in the agent's log", 30*time.Second, func() bool {
		return strings.Contains(r.outputs["agent stderr"].String(), "agent token")
	})
	r.stop()
	fmt.Fprintln(r.out("nats"), strings.Join(msgs(), "\n"))
	r.assertNoLeak()
}

// startAgent runs `vmfleet agent run` supervising a buildkite-agent that
// prints the token it inherits.
func (r *secretsRun) startAgent(format string) {
	t := r.t
	st := tarttest.NewState(t, "", "")
	fake := bkagenttest.NewState(t)
	conf := r.file("agent.yaml", fmt.Sprintf(`host: mac-sec
state_dir: %s
nats:
  urls: [%q]
  user: agent
  password_file: %s
images:
  releases: ["14"]
check:
  interval: 1s
buildkite:
  lever: supervise
  tags: [queue=darwin]
  agent_command: [sh, -c, 'echo "agent token $BUILDKITE_AGENT_TOKEN"; exec "$0" start', %q]
`, filepath.Join(r.dir, "agent-state"), r.natsURL, r.file("agent-pw", r.secrets["agent nats password"]), bkagenttest.BuildExecutable(t)))
	env := append([]string{"VMFLEET_TART=" + tarttest.BuildExecutable(t), "TART_HOME=" + filepath.Join(r.dir, "tart"),
		"BUILDKITE_AGENT_TOKEN=" + r.secrets["buildkite agent token"]}, st.Env()...)
	r.start("agent", append(env, fake.Env()...), "agent", "run", "--config", conf, "--log-format", format, "--log-level", "debug")
}

// observe subscribes to everything as a trusted observer; it returns the
// messages seen (subject, headers and data).
func (r *secretsRun) observe() func() []string {
	t := r.t
	nc, err := nats.Connect(r.natsURL, nats.UserInfo("observer", r.secrets["observer nats password"]))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	var mu sync.Mutex
	var seen []string
	if _, err := nc.Subscribe(">", func(m *nats.Msg) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, fmt.Sprintf("%s %v %s", m.Subject, m.Header, m.Data))
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

func (r *secretsRun) driveHTTP() {
	t, s := r.t, r.secrets
	hook, _ := json.Marshal(map[string]any{"event": "build.running", "build": map[string]any{
		"number": 999, "state": "running", "meta_data": map[string]string{events.MetaKey: "nope"}}})
	good := buildkitefake.SignatureHeader(s["webhook secret"], time.Now(), hook)
	tests := []struct {
		method, path, token string
		body                []byte
		hdr                 map[string]string
		want                int
	}{
		{"GET", "/api/v1/hosts", "", nil, nil, 401},
		{"GET", "/api/v1/hosts", "wrong", nil, nil, 401},
		{"GET", "/api/v1/hosts", s["read token"], nil, nil, 200},
		{"GET", "/api/v1/hosts/mac-sec", s["read token"], nil, nil, 200},
		{"GET", "/api/v1/builds", s["api token"], nil, nil, 200},
		{"GET", "/api/v1/spec", s["read token"], nil, nil, 200},
		{"GET", "/metrics", "", nil, nil, 200},
		{"POST", "/api/v1/builds/nope/retry", s["read token"], nil, nil, 401},
		{"POST", "/api/v1/builds/nope/retry", s["api token"], nil, nil, 404},
		{"POST", "/webhooks/buildkite", "", hook, map[string]string{"X-Buildkite-Signature": buildkitefake.SignatureHeader("forged", time.Now(), hook)}, 401},
		{"POST", "/webhooks/buildkite", "", hook, map[string]string{"X-Buildkite-Signature": good}, 200},
		{"POST", "/webhooks/buildkite", "", hook, map[string]string{"X-Buildkite-Signature": good}, 401},
		{"POST", "/webhooks/buildkite", "", hook, map[string]string{"X-Buildkite-Token": s["webhook secret"]}, 401},
	}
	for _, tt := range tests {
		if got := r.http(tt.method, tt.path, tt.token, tt.body, tt.hdr); got != tt.want {
			t.Errorf("Got(%s %s) = %d, want %d", tt.method, tt.path, got, tt.want)
		}
	}
}

// driveCLI runs client commands and refused configurations.
func (r *secretsRun) driveCLI() {
	t, s := r.t, r.secrets
	if code := r.runCLI("status", []string{"VMFLEET_API_TOKEN=" + s["read token"]}, "status", "--server", r.server); code != 0 {
		t.Errorf("Got(status with the read token) = exit %d, want 0", code)
	}
	if code := r.runCLI("status without token", nil, "status", "--server", r.server); code == 0 {
		t.Errorf("Got(status without a token) = exit 0, want a refusal")
	}
	host := strings.TrimPrefix(r.natsURL, "nats://")
	if code := r.runCLI("url password", nil, "agent", "check", "--host", "mac-x",
		"--nats-url", "nats://agent:"+s["url password"]+"@"+host); code != 2 {
		t.Errorf("Got(agent check with a password in the URL) = exit %d, want 2", code)
	}
	if code := r.runCLI("env flag", nil, "agent", "run", "--host", "mac-x", "--buildkite-agent", "supervise",
		"--buildkite-agent-env", "BUILDKITE_AGENT_TOKEN="+s["env flag secret"]); code != 2 {
		t.Errorf("Got(agent run with a token in --buildkite-agent-env) = exit %d, want 2", code)
	}
	r.runCLI("wrong nats password", []string{"VMFLEET_TART=" + tarttest.BuildExecutable(t)}, "agent", "check", "--host", "mac-x",
		"--log-level", "debug", "--nats-url", r.natsURL, "--nats-user", "agent", "--nats-password-file", r.file("wrong-pw", s["wrong nats password"]))
}

func (r *secretsRun) assertNoLeak() {
	t := r.t
	for name, out := range r.outputs {
		text := out.String()
		t.Logf("%s: %d bytes, %d lines checked", name, len(text), strings.Count(text, "\n"))
		for what, v := range r.secrets {
			if strings.Contains(text, v) {
				t.Errorf("the %s leaked into %s:\n%s", what, name, secretsExcerpt(text, v))
			}
		}
	}
	for name, want := range map[string]string{
		"orchestrator stderr": "HTTP request refused", "agent stderr": "agent token [REDACTED]",
		"url password stderr": "nats://agent:[REDACTED]@", "env flag stderr": "BUILDKITE_AGENT_TOKEN looks like a secret",
		"http": "401 Unauthorized", "nats": ".health",
	} {
		if !strings.Contains(r.outputs[name].String(), want) {
			t.Errorf("Got(%s) without %q: the scenario did not run as meant:\n%s", name, want, r.outputs[name].String())
		}
	}
	if !strings.Contains(r.outputs["orchestrator stderr"].String(), "webhook refused") {
		t.Errorf("Got(orchestrator log) without the refused webhook")
	}
}

// excerpt is the text around the first occurrence of v.
func secretsExcerpt(text, v string) string {
	i := strings.Index(text, v)
	return text[max(0, i-200):min(len(text), i+len(v)+200)]
}

// TestNoSecretInFlags walks every command's Config: a field whose env name
// says it holds a secret, or whose type is secret, has no flag and no config
// file key (a flag shows in ps; a config file is not a secret store), and
// its type masks it.
func TestNoSecretInFlags(t *testing.T) {
	secretType := reflect.TypeFor[secret]()
	seen := 0
	for cmdName, mk := range configDocs {
		b := cliconfig.Bind(&cobra.Command{Use: "x"}, mk(), "X_CONFIG")
		for _, f := range b.Fields() {
			named := false
			for _, e := range f.Envs {
				if f.Value.Kind() != reflect.String {
					break // e.g. a bool "rotate the route password"
				}
				named = named || secretKey(e)
			}
			typed := f.Value.Type() == secretType
			if !named && !typed {
				continue
			}
			seen++
			if f.Flag != "-" || !f.Secret() || !typed {
				t.Errorf("%s: field %s (env %v) holds a secret: want flag:\"-\", yaml:\"-\" and type secret; got flag %q, type %s",
					cmdName, f.Key(), f.Envs, f.Flag, f.Value.Type())
			}
		}
	}
	if seen < 7 { // the orchestrator's six, the agent's NATS password
		t.Errorf("Got(%d secret fields), want at least 7: is the walk finding them?", seen)
	}
}
