package buildkitefake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/internal/sim/buildkitefake/realagent"
)

const agentToken = "agent-tok"

// macosPipeline is a pipeline whose one job needs a host with the macOS 14
// image ready.
const macosPipeline = `
steps:
  - label: ":mac: test on macOS 14"
    key: test
    command: echo "hello from build $$BUILDKITE_BUILD_NUMBER on $$BUILDKITE_AGENT_META_DATA_VMFLEET_HOST ${GREETING:-}"
    agents:
      queue: darwin
      vm-ready-macos-14: "true"
`

// agentProc is a real buildkite-agent the test started.
type agentProc struct {
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	out  bytes.Buffer
}

func (p *agentProc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *agentProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// startRealAgent starts the real buildkite-agent against srv with tags.
func startRealAgent(t *testing.T, srv *Server, name string, tags ...string) *agentProc {
	t.Helper()
	bin := realagent.Bin(t)
	dir := t.TempDir()
	p := &agentProc{done: make(chan struct{})}
	p.cmd = exec.Command(bin, "start", "--token", agentToken, "--endpoint", srv.URL()+"v3",
		"--name", name, "--tags", strings.Join(tags, ","), "--build-path", filepath.Join(dir, "builds"),
		"--hooks-path", realagent.Hooks(t, ""), "--plugins-path", filepath.Join(dir, "plugins"),
		"--sockets-path", shortDir(t), "--no-color")
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("buildkite-agent %s output:\n%s", name, p.output())
		}
	})
	return p
}

// shortDir is a directory with a short path: the agent's job API socket
// path must fit in 108 bytes, which a test's TempDir may not leave.
func shortDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "bk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(d) })
	return d
}

// stop sends SIGTERM and waits for the agent to exit.
func (p *agentProc) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("buildkite-agent did not exit within 30s of SIGTERM")
	}
}

// waitUntil polls cond every 20 ms, failing the test after within.
func waitUntil(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// createBuild creates a build through the REST API, as the orchestrator does.
func createBuild(t *testing.T, srv *Server, pipeline string, env map[string]string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"commit": "HEAD", "branch": "main", "message": "test", "env": env})
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%sv2/organizations/%s/pipelines/%s/builds", srv.URL(), org, pipeline), bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b struct {
		Number int `json:"number"`
	}
	if resp.StatusCode != http.StatusCreated || json.NewDecoder(resp.Body).Decode(&b) != nil {
		t.Fatalf("create build: %s", resp.Status)
	}
	return b.Number
}

// connected returns the agents the REST list shows, by name.
func connected(srv *Server) map[string]Agent {
	out := map[string]Agent{}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	for _, a := range srv.agents {
		if a.ConnectionState == "connected" {
			out[a.Name] = a.clone()
		}
	}
	return out
}

// TestRealAgentRoutedByTags: the real buildkite-agent registers with its
// tags, and a job needing vm-ready-macos-14=true waits through its pings
// while its tags say false; restarted with the tag true, it runs the job,
// and the build passes with the agent's log.
func TestRealAgentRoutedByTags(t *testing.T) {
	srv := newFake(t, WithAgentToken(org, agentToken), WithAgentPipeline(org, "macos", []byte(macosPipeline)))
	a := startRealAgent(t, srv, "mac-0", "queue=darwin", "vm-ready-macos-14=false", "vmfleet-host=mac-0")
	waitUntil(t, "agent connected", 20*time.Second, func() bool { _, ok := connected(srv)["mac-0"]; return ok })
	if got := connected(srv)["mac-0"].MetaData; strings.Join(got, ",") != "queue=darwin,vm-ready-macos-14=false,vmfleet-host=mac-0" {
		t.Errorf("Got(registered tags) = %v, want the agent's --tags", got)
	}

	n := createBuild(t, srv, "macos", map[string]string{"GREETING": "hi"})
	pings := srv.RequestCount(http.MethodGet, RouteAgentPing, http.StatusOK)
	waitUntil(t, "three more pings", 20*time.Second, func() bool {
		return srv.RequestCount(http.MethodGet, RouteAgentPing, http.StatusOK) >= pings+3
	})
	if js := srv.BuildJobs(org, "macos", n); len(js) != 1 || js[0].State != JobScheduled {
		t.Fatalf("Got(jobs while the tag is false) = %+v, want one scheduled", js)
	}

	a.stop(t)
	waitUntil(t, "agent disconnected", 5*time.Second, func() bool { _, ok := connected(srv)["mac-0"]; return !ok })
	startRealAgent(t, srv, "mac-0", "queue=darwin", "vm-ready-macos-14=true", "vmfleet-host=mac-0")
	waitUntil(t, "build passed", 60*time.Second, func() bool {
		b, _ := srv.GetBuild(org, "macos", n)
		return b.State.Finished()
	})
	b, _ := srv.GetBuild(org, "macos", n)
	j := srv.BuildJobs(org, "macos", n)[0]
	if b.State != StatePassed || j.ExitStatus != "0" {
		t.Errorf("Got(build, job exit) = %s, %q, want passed, 0", b.State, j.ExitStatus)
	}
	if want := "hello from build " + fmt.Sprint(n) + " on mac-0 hi"; !strings.Contains(j.Log, want) {
		t.Errorf("Got(job log) = %q, want it to contain %q", j.Log, want)
	}
	if !strings.Contains(strings.Join(j.AgentTags, ","), "vm-ready-macos-14=true") {
		t.Errorf("Got(tags of the agent that ran it) = %v, want vm-ready-macos-14=true", j.AgentTags)
	}
}

// restAgents lists agents through the REST API, as the orchestrator does.
func restAgents(t *testing.T, srv *Server) []wireAgent {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL()+"v2/organizations/"+org+"/agents", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []wireAgent
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func restPut(t *testing.T, srv *Server, path string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, srv.URL()+path, strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// TestRealAgentPauseBusyCancel: a paused real agent is handed no job; once
// resumed it runs it, and the REST agents list shows it busy; a cancel
// through the REST API reaches the agent at its job status check, and the
// build ends canceled with the agent's exit status.
func TestRealAgentPauseBusyCancel(t *testing.T) {
	srv := newFake(t, WithAgentToken(org, agentToken), WithAgentPipeline(org, "long", []byte(`
steps:
  - command: echo started; while true; do sleep 0.1; done
`)))
	startRealAgent(t, srv, "linux-0")
	waitUntil(t, "agent listed", 20*time.Second, func() bool { return len(restAgents(t, srv)) == 1 })
	id := restAgents(t, srv)[0].ID
	if st := restPut(t, srv, "v2/organizations/"+org+"/agents/"+id+"/pause"); st != http.StatusNoContent {
		t.Fatalf("Got(pause) = %d, want 204", st)
	}
	n := createBuild(t, srv, "long", nil)
	pings := srv.RequestCount(http.MethodGet, RouteAgentPing, http.StatusOK)
	waitUntil(t, "three pings while paused", 20*time.Second, func() bool {
		return srv.RequestCount(http.MethodGet, RouteAgentPing, http.StatusOK) >= pings+3
	})
	if j := srv.BuildJobs(org, "long", n)[0]; j.State != JobScheduled {
		t.Fatalf("Got(job of a paused agent) = %s, want scheduled", j.State)
	}
	if st := restPut(t, srv, "v2/organizations/"+org+"/agents/"+id+"/resume"); st != http.StatusNoContent {
		t.Fatalf("Got(resume) = %d, want 204", st)
	}
	waitUntil(t, "job log", 30*time.Second, func() bool {
		return strings.Contains(srv.BuildJobs(org, "long", n)[0].Log, "started")
	})
	if as := restAgents(t, srv); as[0].Job == nil || as[0].Job.State != JobRunning {
		t.Errorf("Got(REST agent's job while it runs one) = %+v, want the running job", as[0].Job)
	}
	if b, _ := srv.GetBuild(org, "long", n); b.State != StateRunning {
		t.Errorf("Got(build while its job runs) = %s, want running", b.State)
	}
	if st := restPut(t, srv, fmt.Sprintf("v2/organizations/%s/pipelines/long/builds/%d/cancel", org, n)); st != http.StatusOK {
		t.Fatalf("Got(cancel) = %d, want 200", st)
	}
	waitUntil(t, "build canceled", 30*time.Second, func() bool {
		b, _ := srv.GetBuild(org, "long", n)
		return b.State == StateCanceled
	})
	j := srv.BuildJobs(org, "long", n)[0]
	if j.State != JobCanceled || j.ExitStatus == "0" || j.ExitStatus == "" {
		t.Errorf("Got(canceled job) = %s, exit %q, want canceled with the agent's non-zero exit status", j.State, j.ExitStatus)
	}
	if as := restAgents(t, srv); as[0].Job != nil {
		t.Errorf("Got(REST agent's job after the cancel) = %+v, want none", as[0].Job)
	}
}
