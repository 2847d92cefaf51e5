package buildkitefake

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// agentClient speaks the agent API as buildkite-agent v3 does (its api
// package): for the fake's own tests, which need no agent binary.
type agentClient struct {
	t     *testing.T
	srv   *Server
	token string
}

func (c *agentClient) call(method, path string, body any, out any) int {
	c.t.Helper()
	var r io.Reader
	if b, ok := body.([]byte); ok {
		r = bytes.NewReader(b)
	} else if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.srv.URL()+"v3/"+path, r)
	req.Header.Set("Authorization", "Token "+c.token)
	if _, ok := body.([]byte); ok {
		req.Header.Set("Content-Type", "text/plain")
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode < 300 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			c.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

// register registers an agent with tags and connects it.
func register(t *testing.T, srv *Server, name string, tags ...string) *agentClient {
	t.Helper()
	c := &agentClient{t: t, srv: srv, token: agentToken}
	var reg struct {
		ID           string   `json:"id"`
		AccessToken  string   `json:"access_token"`
		Endpoint     string   `json:"endpoint"`
		PingInterval int      `json:"ping_interval"`
		Tags         []string `json:"meta_data"`
	}
	if st := c.call(http.MethodPost, "register", map[string]any{"name": name, "hostname": "h", "meta_data": tags, "pid": 1}, &reg); st != http.StatusOK {
		t.Fatalf("Got(register) = %d, want 200", st)
	}
	if reg.AccessToken == "" || reg.PingInterval != 1 || reg.Endpoint != srv.URL()+"v3" || strings.Join(reg.Tags, ",") != strings.Join(tags, ",") {
		t.Fatalf("Got(register answer) = %+v", reg)
	}
	c.token = reg.AccessToken
	if st := c.call(http.MethodPost, "connect", nil, nil); st != http.StatusOK {
		t.Fatalf("Got(connect) = %d, want 200", st)
	}
	return c
}

type pingJob struct {
	Job *struct {
		ID    string            `json:"id"`
		State string            `json:"state"`
		Env   map[string]string `json:"env"`
		Token string            `json:"token"`
	} `json:"job"`
}

// TestAgentAPIProtocol drives the agent API by hand: the registration
// token is checked, a job goes only to the agent whose tags match, and the
// agent's start, log chunks and finish make the build's state, webhooks
// and log.
func TestAgentAPIProtocol(t *testing.T) {
	srv := newFake(t, WithAgentToken(org, agentToken), WithAgentPipeline(org, "macos", []byte(macosPipeline)))
	bad := &agentClient{t: t, srv: srv, token: "wrong"}
	if st := bad.call(http.MethodPost, "register", map[string]any{"name": "x"}, nil); st != http.StatusUnauthorized {
		t.Errorf("Got(register with a wrong token) = %d, want 401", st)
	}
	if st := bad.call(http.MethodGet, "ping", nil, nil); st != http.StatusUnauthorized {
		t.Errorf("Got(ping with an unknown access token) = %d, want 401", st)
	}
	linux := register(t, srv, "linux", "queue=default")
	notReady := register(t, srv, "mac-0", "queue=darwin", "vm-ready-macos-14=false")
	ready := register(t, srv, "mac-1", "queue=darwin", "vm-ready-macos-14=true", "vmfleet-host=mac-1")
	if got := len(restAgents(t, srv)); got != 3 {
		t.Errorf("Got(REST agents) = %d, want 3 connected", got)
	}

	n := createBuild(t, srv, "macos", map[string]string{"GREETING": "hi"})
	for _, c := range []*agentClient{linux, notReady} {
		var p pingJob
		if st := c.call(http.MethodGet, "ping", nil, &p); st != http.StatusOK || p.Job != nil {
			t.Errorf("Got(ping of an agent whose tags do not match) = %d, %+v, want no job", st, p.Job)
		}
	}
	var p pingJob
	if ready.call(http.MethodGet, "ping", nil, &p); p.Job == nil {
		t.Fatalf("Got(ping of the matching agent) = no job, want the job")
	}
	id := p.Job.ID
	if p.Job.Env["BUILDKITE_AGENT_META_DATA_VMFLEET_HOST"] != "mac-1" || p.Job.Env["GREETING"] != "hi" ||
		!strings.Contains(p.Job.Env["BUILDKITE_COMMAND"], "hello from build $BUILDKITE_BUILD_NUMBER") || p.Job.Token != ready.token {
		t.Errorf("Got(job env, token) = %v, %q", p.Job.Env, p.Job.Token)
	}
	if st := notReady.call(http.MethodPut, "jobs/"+id+"/accept", nil, nil); st != http.StatusUnprocessableEntity {
		t.Errorf("Got(accept by another agent) = %d, want 422", st)
	}
	var again pingJob
	if ready.call(http.MethodGet, "ping", nil, &again); again.Job != nil {
		t.Errorf("Got(second ping of a busy agent) = a job, want none")
	}
	if st := ready.call(http.MethodPut, "jobs/"+id+"/accept", nil, nil); st != http.StatusOK {
		t.Fatalf("Got(accept) = %d, want 200", st)
	}
	if st := ready.call(http.MethodPut, "jobs/"+id+"/start", map[string]string{"started_at": time.Now().Format(time.RFC3339)}, nil); st != http.StatusOK {
		t.Fatalf("Got(start) = %d, want 200", st)
	}
	if b, _ := srv.GetBuild(org, "macos", n); b.State != StateRunning {
		t.Errorf("Got(build once its job started) = %s, want running", b.State)
	}
	var state struct{ State string }
	if ready.call(http.MethodGet, "jobs/"+id, nil, &state); state.State != "running" {
		t.Errorf("Got(job state) = %q, want running", state.State)
	}
	for i, chunk := range []string{"hello ", "world\n"} { // sent out of order
		part := []string{"hello ", "world\n"}[1-i]
		off := map[string]int{"hello ": 0, "world\n": 6}[part]
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		_, _ = zw.Write([]byte(part))
		_ = zw.Close()
		if st := ready.call(http.MethodPost, fmt.Sprintf("jobs/%s/chunks?sequence=%d&offset=%d&size=%d", id, 2-i, off, len(part)), z.Bytes(), nil); st != http.StatusCreated {
			t.Fatalf("Got(chunk %q) = %d, want 201", chunk, st)
		}
	}
	if st := ready.call(http.MethodPut, "jobs/"+id+"/finish", map[string]any{"exit_status": "0", "chunks_failed_count": 0}, nil); st != http.StatusOK {
		t.Fatalf("Got(finish) = %d, want 200", st)
	}
	b, _ := srv.GetBuild(org, "macos", n)
	j := srv.BuildJobs(org, "macos", n)[0]
	if b.State != StatePassed || j.Log != "hello world\n" || j.AgentID == "" {
		t.Errorf("Got(build, log) = %s, %q, want passed, the chunks in offset order", b.State, j.Log)
	}
	if st := ready.call(http.MethodPut, "jobs/"+id+"/finish", map[string]any{"exit_status": "0"}, nil); st != http.StatusUnprocessableEntity {
		t.Errorf("Got(second finish) = %d, want 422", st)
	}
	if st := ready.call(http.MethodPost, "disconnect", nil, nil); st != http.StatusOK || len(restAgents(t, srv)) != 2 {
		t.Errorf("Got(disconnect) = %d, REST agents %d, want 200 and 2 left", st, len(restAgents(t, srv)))
	}
	// Tick and Step leave agent-driven builds alone.
	n2 := createBuild(t, srv, "macos", nil)
	srv.Step()
	srv.Tick(time.Now().Add(time.Hour))
	if b, _ := srv.GetBuild(org, "macos", n2); b.State != StateScheduled {
		t.Errorf("Got(agent-driven build after Step and Tick) = %s, want scheduled", b.State)
	}
}

// TestAgentAPIFailedJobFailsBuild: a job that exits non-zero fails its
// build; a pipeline that does not interpolate fails the build at once.
func TestAgentAPIFailedJobFailsBuild(t *testing.T) {
	srv := newFake(t, WithAgentToken(org, agentToken), WithAgentPipeline(org, "macos", []byte(macosPipeline)),
		WithAgentPipeline(org, "strict", []byte("steps:\n  - command: echo ${NEEDED:?must be set}\n")))
	c := register(t, srv, "mac", "queue=darwin", "vm-ready-macos-14=true")
	n := createBuild(t, srv, "macos", nil)
	var p pingJob
	if c.call(http.MethodGet, "ping", nil, &p); p.Job == nil {
		t.Fatal("no job")
	}
	c.call(http.MethodPut, "jobs/"+p.Job.ID+"/accept", nil, nil)
	c.call(http.MethodPut, "jobs/"+p.Job.ID+"/start", map[string]string{}, nil)
	c.call(http.MethodPut, "jobs/"+p.Job.ID+"/finish", map[string]any{"exit_status": "3"}, nil)
	if b, _ := srv.GetBuild(org, "macos", n); b.State != StateFailed {
		t.Errorf("Got(build of a job that exited 3) = %s, want failed", b.State)
	}
	s := createBuild(t, srv, "strict", nil)
	if b, _ := srv.GetBuild(org, "strict", s); b.State != StateFailed || len(srv.BuildJobs(org, "strict", s)) != 0 {
		t.Errorf("Got(build whose upload fails) = %s, want failed at once, no job", b.State)
	}
}
