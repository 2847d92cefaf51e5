package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/sim/buildkitefake"
	"github.com/vmfleet/vmfleet/internal/sim/buildkitefake/realagent"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

// The tests here run the real buildkite-agent (the version tools/go.mod
// pins; realagent finds it) against the fake Buildkite's agent API, under
// `vmfleet agent run --buildkite-agent supervise` or by hand: job routing
// by tags proven end to end, not against a stand-in.

const (
	bkAgentToken = "e2e-agent-token"
	// macosPipeline is the pipeline of the macOS jobs the tests route.
	macosPipeline = "macos-ci"
)

// macosSteps: one job that needs a host whose macOS 14 image is ready, one
// that runs on any darwin agent until the test releases it ($RELEASE_FILE).
const (
	readyStep = `
steps:
  - label: ":mac: test on macOS 14"
    command: echo "ran on $$BUILDKITE_AGENT_META_DATA_VMFLEET_HOST with vm-ready-macos-14=$$BUILDKITE_AGENT_META_DATA_VM_READY_MACOS_14"
    agents:
      queue: darwin
      vm-ready-macos-14: "true"
`
	holdStep = `
steps:
  - label: ":mac: long job"
    command: |
      echo "job waiting"
      for i in $$(seq 1200); do [ -e "$$RELEASE_FILE" ] && break; sleep 0.1; done
      echo "job released"
    agents:
      queue: darwin
`
)

// TestRealBuildkiteAgentVersion: the buildkite-agent the tests run is the
// version tools/go.mod pins.
func TestRealBuildkiteAgentVersion(t *testing.T) {
	bin := realagent.Bin(t)
	got, want := realagent.Version(t, bin), realagent.PinnedVersion(t)
	t.Logf("FIGURE buildkite-agent: %s (%s)", got, bin)
	if !strings.HasPrefix(got, "buildkite-agent version "+want) {
		t.Errorf("Got(%s --version) = %q, want buildkite-agent version %s (tools/go.mod)", bin, got, want)
	}
}

// newRealWorld is newWorld whose fake Buildkite serves the agent API, with
// pipelines (slug → pipeline file) dispatched to real agents.
func newRealWorld(t *testing.T, urls []string, pipelines map[string]string) *world {
	t.Helper()
	realagent.Bin(t) // skip (locally) before starting anything
	opts := []buildkitefake.Option{buildkitefake.WithAgentToken(bkOrg, bkAgentToken),
		buildkitefake.WithAgentIntervals(time.Second, time.Second, time.Second)}
	for slug, src := range pipelines {
		opts = append(opts, buildkitefake.WithPipelines(bkOrg, slug), buildkitefake.WithAgentPipeline(bkOrg, slug, []byte(src)))
	}
	w := newWorld(t, urls, opts...)
	// vmfleet runs buildkite-agent in a process group of its own, which
	// the SIGKILL that ends a test's vmfleet processes does not reach: end
	// what is left of the agents that registered here (and their groups),
	// each known by its registration's pid and this fake's endpoint in its
	// command line. Registered first, this runs after every process's cleanup.
	t.Cleanup(func() {
		if t.Failed() {
			for _, j := range w.bk.Jobs() {
				t.Logf("job %s of %s#%d: %s, exit %q, agent tags %v, log:\n%s", j.ID, j.Pipeline, j.BuildNumber, j.State, j.ExitStatus, j.AgentTags, j.Log)
			}
		}
		for _, a := range w.bk.Agents(bkOrg) {
			cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", a.PID))
			if a.PID > 0 && err == nil && bytes.Contains(cmdline, []byte(w.bk.URL()+"v3")) {
				_ = syscall.Kill(-a.PID, syscall.SIGKILL)
				_ = syscall.Kill(a.PID, syscall.SIGKILL)
			}
		}
	})
	return w
}

// agentCommand is the real buildkite-agent's start argv (one string, as
// --buildkite-agent-command takes it) against the world's fake, with a
// checkout hook copying fixtures (if any) in place of git.
func (w *world) agentCommand(name, fixtures string) string {
	w.t.Helper()
	dir := lingerDir(w.t)
	return strings.Join([]string{realagent.Bin(w.t), "start", "--token", bkAgentToken,
		"--endpoint", w.bk.URL() + "v3", "--name", name, "--no-color",
		"--build-path", filepath.Join(dir, "builds"), "--plugins-path", filepath.Join(dir, "plugins"),
		// The job API's socket path must fit in 108 bytes: not under HOME,
		// which is the test's long temporary directory.
		"--sockets-path", filepath.Join(dir, "s"),
		"--hooks-path", realagent.Hooks(w.t, fixtures)}, " ")
}

// startSupervised starts `vmfleet agent run --buildkite-agent supervise`
// for host name around the real buildkite-agent, with operator tag
// queue=darwin. The host's configuration goes in the environment, so the
// jobs the agent runs (which inherit it) call `vmfleet agent ...` as the
// host's own; tart and vmfleet are in their PATH.
func (w *world) startSupervised(name, fixtures string, extra ...string) *agentProc {
	w.t.Helper()
	_, vmfleet, tart := binaries(w.t)
	host, err := events.HostToken(name)
	if err != nil {
		w.t.Fatal(err)
	}
	home := lingerDir(w.t)
	bin := filepath.Join(home, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		w.t.Fatal(err)
	}
	for link, target := range map[string]string{"tart": tart, "vmfleet": vmfleet} {
		if err := os.Symlink(target, filepath.Join(bin, link)); err != nil {
			w.t.Fatal(err)
		}
	}
	a := &agentProc{w: w, host: host, state: tarttest.NewState(w.t, lingerDir(w.t), "")}
	a.args = append([]string{"agent", "run", "--log-format", "json", "--interval", "1s", "--heartbeat", "1s",
		"--buildkite-agent", "supervise", "--buildkite-tags", "queue=darwin",
		"--buildkite-agent-command", w.agentCommand(name, fixtures)}, extra...)
	a.env = append([]string{"PATH=" + bin + ":" + os.Getenv("PATH"),
		"VMFLEET_HOST=" + name, "VMFLEET_NATS_URL=" + strings.Join(w.urls, ","),
		"VMFLEET_STATE_DIR=" + filepath.Join(home, "state"), "VMFLEET_RELEASES=14",
		"VMFLEET_TART_TIMEOUT=5s", "VMFLEET_PULL_TIMEOUT=3s",
		"VMFLEET_TART=" + tart, "TART_HOME=" + filepath.Join(home, "tart")}, a.state.Env()...)
	w.mu.Lock()
	w.agents[host] = a
	w.mu.Unlock()
	a.start()
	return a
}

// createBuild creates a build of pipeline through the fake's REST API.
func (w *world) createBuild(pipeline string, env map[string]string) int {
	w.t.Helper()
	body, _ := json.Marshal(map[string]any{"commit": "HEAD", "branch": "main", "message": "e2e", "env": env})
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%sv2/organizations/%s/pipelines/%s/builds", w.bk.URL(), bkOrg, pipeline), bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+bkToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b struct {
		Number int `json:"number"`
	}
	if resp.StatusCode != http.StatusCreated || json.NewDecoder(resp.Body).Decode(&b) != nil {
		w.t.Fatalf("create build of %s: %s", pipeline, resp.Status)
	}
	return b.Number
}

// hostAgents returns the registrations of host's buildkite-agents (tag
// vmfleet-host), oldest first.
func (w *world) hostAgents(host string) []buildkitefake.Agent {
	var out []buildkitefake.Agent
	for _, a := range w.bk.Agents(bkOrg) {
		if a.Registered && slices.Contains(a.MetaData, "vmfleet-host="+host) {
			out = append(out, a)
		}
	}
	return out
}

// connectedWith reports whether host has a connected buildkite-agent with tag.
func (w *world) connectedWith(host, tag string) bool {
	for _, a := range w.hostAgents(host) {
		if a.ConnectionState == "connected" && slices.Contains(a.MetaData, tag) {
			return true
		}
	}
	return false
}

// job returns the one job of build n of pipeline.
func (w *world) job(pipeline string, n int) buildkitefake.Job {
	w.t.Helper()
	js := w.bk.BuildJobs(bkOrg, pipeline, n)
	if len(js) != 1 {
		w.t.Fatalf("Got(jobs of %s#%d) = %d, want 1", pipeline, n, len(js))
	}
	return js[0]
}

func (w *world) buildState(pipeline string, n int) buildkitefake.State {
	b, err := w.bk.GetBuild(bkOrg, pipeline, n)
	if err != nil {
		w.t.Fatal(err)
	}
	return b.State
}

// pingsAfter waits until the fake has answered n more agent pings than now.
func (w *world) waitPings(n int) {
	w.t.Helper()
	from := w.bk.RequestCount(http.MethodGet, buildkitefake.RouteAgentPing, http.StatusOK)
	waitFor(w.t, fmt.Sprintf("%d more pings", n), 30*time.Second, func() bool {
		return w.bk.RequestCount(http.MethodGet, buildkitefake.RouteAgentPing, http.StatusOK) >= from+n
	})
}

// TestRealBuildkiteAgentRouting: a job that needs vm-ready-macos-14=true
// waits, through the real agent's pings, while the host lacks the image;
// once the image appears, vmfleet restarts the agent with the new tags and
// the job runs on it. The VM build the orchestrator triggers meanwhile is
// not served to agents here: the image appears by hand.
func TestRealBuildkiteAgentRouting(t *testing.T) {
	n := startNATS(t)
	w := newRealWorld(t, []string{n.url()}, map[string]string{macosPipeline: readyStep})
	o := w.startOrch("a")
	waitFor(t, "a leads", 20*time.Second, o.leads)
	ag := w.startSupervised("mac-0", "")
	waitFor(t, "agent registered, not ready", 30*time.Second, func() bool {
		return w.connectedWith(ag.host, "vm-ready-macos-14=false")
	})
	if got := w.hostAgents(ag.host)[0].MetaData; !slices.Contains(got, "queue=darwin") {
		t.Errorf("Got(registered tags) = %v, want queue=darwin among them", got)
	}

	b := w.createBuild(macosPipeline, nil)
	w.waitPings(3)
	if j := w.job(macosPipeline, b); j.State != buildkitefake.JobScheduled {
		t.Fatalf("Got(job while the host lacks the image) = %s on %s, want scheduled", j.State, j.AgentID)
	}

	ag.state.Add(events.VM{Name: image14(), SizeGB: 40, DiskGB: 60})
	took := waitFor(t, "build passed", 60*time.Second, func() bool { return w.buildState(macosPipeline, b).Finished() })
	j := w.job(macosPipeline, b)
	t.Logf("FIGURE real agent routing: job ran %s after the image appeared (restart with new tags included)", took.Round(time.Millisecond))
	if st := w.buildState(macosPipeline, b); st != buildkitefake.StatePassed || j.ExitStatus != "0" {
		t.Errorf("Got(build, job exit) = %s, %q, want passed, 0", st, j.ExitStatus)
	}
	if want := "ran on " + ag.host + " with vm-ready-macos-14=true"; !strings.Contains(j.Log, want) {
		t.Errorf("Got(job log) = %q, want %q", j.Log, want)
	}
	regs := w.hostAgents(ag.host)
	if len(regs) != 2 || regs[0].ConnectionState != "disconnected" || j.AgentID != regs[1].ID {
		t.Errorf("Got(registrations) = %+v, job on %s, want two, the first disconnected, the job on the second", regs, j.AgentID)
	}
	if ag.p.logged("tags changed: restarting buildkite-agent") < 0 {
		t.Errorf("Got(vmfleet log) lacks the restart for new tags")
	}
}

// TestRealBuildkiteAgentTagChangeDuringJob: the host's tags change while
// the real agent runs a job. vmfleet stops the agent gracefully: the job
// finishes with exit status 0 (not cancelled), then the agent re-registers
// with the new tags. The restart is counted (two registrations, two starts
// logged) and logged.
func TestRealBuildkiteAgentTagChangeDuringJob(t *testing.T) {
	n := startNATS(t)
	w := newRealWorld(t, []string{n.url()}, map[string]string{macosPipeline: holdStep})
	o := w.startOrch("a")
	waitFor(t, "a leads", 20*time.Second, o.leads)
	ag := w.startSupervised("mac-0", "")
	waitFor(t, "agent registered", 30*time.Second, func() bool {
		return w.connectedWith(ag.host, "vm-ready-macos-14=false")
	})
	release := filepath.Join(t.TempDir(), "release")
	b := w.createBuild(macosPipeline, map[string]string{"RELEASE_FILE": release})
	waitFor(t, "job running", 30*time.Second, func() bool { return strings.Contains(w.job(macosPipeline, b).Log, "job waiting") })

	ag.state.Add(events.VM{Name: image14(), SizeGB: 40, DiskGB: 60})
	waitFor(t, "restart asked", 20*time.Second, func() bool {
		return ag.p.logged("tags changed: restarting buildkite-agent") >= 0
	})
	// The agent drains: no new registration while the job runs.
	waitFor(t, "agent stopping", 10*time.Second, func() bool {
		return ag.p.logged("Gracefully stopping agent. Waiting for current job to finish") >= 0
	})
	if regs := w.hostAgents(ag.host); len(regs) != 1 {
		t.Fatalf("Got(registrations while the job runs) = %d, want 1", len(regs))
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "re-registered with the new tags", 60*time.Second, func() bool {
		return w.connectedWith(ag.host, "vm-ready-macos-14=true")
	})
	j := w.job(macosPipeline, b)
	if st := w.buildState(macosPipeline, b); st != buildkitefake.StatePassed || j.State != buildkitefake.JobFinished || j.ExitStatus != "0" {
		t.Errorf("Got(build, job, exit) = %s, %s, %q, want passed, finished, 0 (not cancelled)", st, j.State, j.ExitStatus)
	}
	if !strings.Contains(j.Log, "job released") {
		t.Errorf("Got(job log) = %q, want the job to have run to its end", j.Log)
	}
	regs := w.hostAgents(ag.host)
	if len(regs) != 2 || regs[0].ConnectionState != "disconnected" || regs[0].LastJobFinishedAt.IsZero() {
		t.Errorf("Got(registrations) = %+v, want two: the first disconnected after its job", regs)
	}
	if got := ag.p.count("buildkite-agent started"); got != 2 {
		t.Errorf("Got(buildkite-agent starts logged) = %d, want 2 (one restart)", got)
	}
}

// count is how many output lines contain s.
func (p *proc) count(s string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.lines {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

// vmFixtures is a checkout for the VM build pipeline: its
// scripts/build-macos-vm.sh makes the VM under the temporary name with
// (the fake) tart, as a real image build would after many minutes.
func vmFixtures(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := `#!/bin/sh
set -eu
for a in "$@"; do case "$a" in --name=*) name="${a#--name=}";; esac; done
tart clone ghcr.io/cirruslabs/macos-sonoma-base:latest "$name"
echo "built $name"
`
	if err := os.WriteFile(filepath.Join(dir, "scripts", "build-macos-vm.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestRealBuildkiteAgentHostMode: the orchestrator's build-macos-vm builds
// (the pipeline vmfleet ships, deploy/buildkite/build-macos-vm.yml) go each
// to the real agent of the host they pin, and to no other; the job's
// command script makes the VM through tart and ends with `vmfleet agent
// publish-image`; each build passes through the agent's finish call, its
// webhooks reach the orchestrator, and every host turns ready.
func TestRealBuildkiteAgentHostMode(t *testing.T) {
	vmPipeline, err := os.ReadFile(filepath.Join(realagentRoot(), "deploy", "buildkite", "build-macos-vm.yml"))
	if err != nil {
		t.Fatal(err)
	}
	n := startNATS(t)
	w := newRealWorld(t, []string{n.url()}, map[string]string{bkPipeline: string(vmPipeline)})
	o := w.startOrch("a")
	waitFor(t, "a leads", 20*time.Second, o.leads)
	fixtures := vmFixtures(t)
	var hosts []string
	for _, name := range []string{"mac-0", "mac-1"} {
		hosts = append(hosts, w.startSupervised(name, fixtures).host)
	}
	took := waitFor(t, "every host ready", 120*time.Second, func() bool { return allReady(o, hosts...) })
	t.Logf("FIGURE real agent host mode: %d hosts built and ready in %s", len(hosts), took.Round(time.Millisecond))
	// publish-image makes the host ready before the job's finish call.
	waitFor(t, "builds finished", 30*time.Second, func() bool {
		for _, b := range w.bk.Builds() {
			if !b.State.Finished() {
				return false
			}
		}
		return true
	})
	if got := w.noDuplicates(); got != len(hosts) {
		t.Errorf("Got(builds) = %d, want %d", got, len(hosts))
	}
	for _, b := range w.bk.Builds() {
		target := b.Env[events.EnvTargetHost]
		j := w.job(bkPipeline, b.Number)
		if b.State != buildkitefake.StatePassed || j.ExitStatus != "0" {
			t.Errorf("Got(build #%d for %s) = %s, exit %q, want passed, 0", b.Number, target, b.State, j.ExitStatus)
		}
		if !slices.Contains(j.AgentTags, "vmfleet-host="+target) || !slices.Contains(j.Agents, "vmfleet-host="+target) {
			t.Errorf("Got(build #%d for %s) ran on an agent with tags %v (rules %v), want the pinned host's", b.Number, target, j.AgentTags, j.Agents)
		}
		for _, want := range []string{"room for " + image14(), "built vmfleet-tmp-" + image14()} {
			if !strings.Contains(j.Log, want) {
				t.Errorf("Got(log of build #%d) lacks %q:\n%s", b.Number, want, j.Log)
			}
		}
	}
	waitFor(t, "records passed (webhooks)", 20*time.Second, func() bool {
		recs := o.builds()
		for _, h := range hosts {
			if recs[hostKey(h)].State != events.BuildPassed {
				return false
			}
		}
		return true
	})
	for _, d := range w.bk.Deliveries() {
		if d.Status != http.StatusOK {
			t.Errorf("Got(webhook %s of build #%d) = %d %s, want 200", d.Event, d.Build.Number, d.Status, d.Err)
		}
	}
	// The image is there under its final name only: publish-image renamed it.
	for _, h := range hosts {
		a := w.agents[h]
		waitFor(t, "tags restarted ready", 30*time.Second, func() bool { return w.connectedWith(h, "vm-ready-macos-14=true") })
		if a.p.logged("tags changed: restarting buildkite-agent") < 0 {
			t.Errorf("Got(%s log) lacks the restart once the image was published", h)
		}
	}
}

// realagentRoot is the repository root, from the e2e directory.
func realagentRoot() string { return ".." }

// TestRealBuildkiteAgentDrift: a real agent an operator started by hand
// with stale tags (vm-ready-macos-14=true on a host that lacks the image)
// beside a host agent whose lever writes the right ones: the
// orchestrator's drift check lists it through the REST API and flags the
// host; once the agent is restarted with the tags vmfleet reports, the
// flag ends.
func TestRealBuildkiteAgentDrift(t *testing.T) {
	n := startNATS(t)
	w := newRealWorld(t, []string{n.url()}, nil)
	o := w.startOrch("a", "--buildkite-agents-interval", "1s", "--drift-grace", "1s")
	waitFor(t, "a leads", 20*time.Second, o.leads)
	dir := t.TempDir()
	tagsFile := filepath.Join(dir, "tags")
	ag := w.startAgent("mac-0", "--buildkite-agent", "command", "--buildkite-tags", "queue=darwin",
		"--tags-file", tagsFile, "--tags-file-format", "tags", "--restart-command", "true")
	waitFor(t, "tags written", 30*time.Second, func() bool { b, _ := os.ReadFile(tagsFile); return len(b) > 0 })

	stale := "queue=darwin,vmfleet-host=" + ag.host + ",vm-ready-macos-14=true"
	hand := w.startByHand("mac-0-by-hand", stale)
	waitFor(t, "host flagged", 30*time.Second, func() bool {
		h := o.hosts()[ag.host]
		return h.Drift && h.DriftReason == events.DriftTagsDiffer
	})
	hand.signal(syscall.SIGTERM)
	if _, ok := hand.wait(30 * time.Second); !ok {
		t.Fatal("the agent started by hand did not stop on SIGTERM")
	}
	b, _ := os.ReadFile(tagsFile)
	w.startByHand("mac-0-by-hand", strings.TrimSpace(string(b)))
	waitFor(t, "drift ended", 30*time.Second, func() bool {
		h, ok := o.hosts()[ag.host]
		return ok && !h.Drift
	})
}

// startByHand starts the real buildkite-agent as an operator would, with
// tags, outside vmfleet.
func (w *world) startByHand(name, tags string) *proc {
	w.t.Helper()
	argv := strings.Fields(w.agentCommand(name, ""))
	return startProc(w.t, "bk-"+name, argv[0], append(argv[1:], "--tags", tags), nil)
}

// TestRealBuildkiteAgentCommandLever: lever command with a restart command
// that restarts the real agent (as `launchctl kickstart -k` would a
// launchd-run one): the agent starts with the tags file's tags, a job
// needing vm-ready-macos-14=true waits while the host lacks the image, and
// once it appears the restart command restarts the agent with the new tags
// and the job runs on it.
func TestRealBuildkiteAgentCommandLever(t *testing.T) {
	n := startNATS(t)
	w := newRealWorld(t, []string{n.url()}, map[string]string{macosPipeline: readyStep})
	o := w.startOrch("a")
	waitFor(t, "a leads", 20*time.Second, o.leads)
	dir := lingerDir(t)
	tagsFile, pidFile := filepath.Join(dir, "tags"), filepath.Join(dir, "agent.pid")
	restart := filepath.Join(dir, "restart-agent")
	script := `#!/bin/sh
# Stands in for launchctl kickstart -k: stop the running buildkite-agent
# gracefully, then start it again, detached, with the tags file's tags.
set -eu
if [ -f '` + pidFile + `' ]; then
	pid=$(cat '` + pidFile + `')
	kill -TERM "$pid" 2>/dev/null || true
	while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
fi
setsid ` + w.agentCommand("mac-0", "") + ` --tags "$(cat '` + tagsFile + `')" >>'` + filepath.Join(dir, "agent.log") + `' 2>&1 </dev/null &
echo $! >'` + pidFile + `'
echo "restarted buildkite-agent: pid $!"
`
	if err := os.WriteFile(restart, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ag := w.startAgent("mac-0", "--buildkite-agent", "command", "--buildkite-tags", "queue=darwin",
		"--tags-file", tagsFile, "--tags-file-format", "tags", "--restart-command", restart)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "agent.log"))
			t.Logf("buildkite-agent log:\n%s", b)
		}
	})
	waitFor(t, "agent registered, not ready", 30*time.Second, func() bool {
		return w.connectedWith(ag.host, "vm-ready-macos-14=false")
	})
	b := w.createBuild(macosPipeline, nil)
	w.waitPings(3)
	if j := w.job(macosPipeline, b); j.State != buildkitefake.JobScheduled {
		t.Fatalf("Got(job while the host lacks the image) = %s, want scheduled", j.State)
	}
	ag.state.Add(events.VM{Name: image14(), SizeGB: 40, DiskGB: 60})
	waitFor(t, "build passed", 60*time.Second, func() bool { return w.buildState(macosPipeline, b).Finished() })
	j := w.job(macosPipeline, b)
	if st := w.buildState(macosPipeline, b); st != buildkitefake.StatePassed || !strings.Contains(j.Log, "with vm-ready-macos-14=true") {
		t.Errorf("Got(build, job log) = %s, %q, want passed on an agent with vm-ready-macos-14=true", st, j.Log)
	}
	regs := w.hostAgents(ag.host)
	if len(regs) != 2 || regs[0].ConnectionState != "disconnected" {
		t.Errorf("Got(registrations) = %+v, want two, the first disconnected by the restart", regs)
	}
}

// TestRealBuildkiteAgentGracefulStop: `vmfleet agent run` stopped (SIGTERM,
// as launchd stops it) while the real agent runs a job: vmfleet passes one
// SIGTERM on, the agent takes no new job and lets the running one finish
// with exit status 0, disconnects, and vmfleet exits 0 after it, restarting
// nothing.
func TestRealBuildkiteAgentGracefulStop(t *testing.T) {
	n := startNATS(t)
	w := newRealWorld(t, []string{n.url()}, map[string]string{macosPipeline: holdStep})
	o := w.startOrch("a")
	waitFor(t, "a leads", 20*time.Second, o.leads)
	ag := w.startSupervised("mac-0", "")
	waitFor(t, "agent registered", 30*time.Second, func() bool {
		return w.connectedWith(ag.host, "queue=darwin")
	})
	release := filepath.Join(t.TempDir(), "release")
	b := w.createBuild(macosPipeline, map[string]string{"RELEASE_FILE": release})
	waitFor(t, "job running", 30*time.Second, func() bool { return strings.Contains(w.job(macosPipeline, b).Log, "job waiting") })

	ag.p.signal(syscall.SIGTERM)
	waitFor(t, "agent stopping after its job", 10*time.Second, func() bool {
		return ag.p.logged("Gracefully stopping agent. Waiting for current job to finish") >= 0
	})
	second := w.createBuild(macosPipeline, map[string]string{"RELEASE_FILE": release})
	if !ag.p.running() || w.buildState(macosPipeline, b) != buildkitefake.StateRunning {
		t.Fatalf("Got(vmfleet running, build) = %v, %s, want vmfleet waiting for the running job", ag.p.running(), w.buildState(macosPipeline, b))
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, ok := ag.p.wait(60 * time.Second)
	if !ok || code != 0 {
		t.Fatalf("Got(vmfleet exit after SIGTERM) = %d (exited %v), want 0 once the job finished", code, ok)
	}
	j := w.job(macosPipeline, b)
	if st := w.buildState(macosPipeline, b); st != buildkitefake.StatePassed || j.State != buildkitefake.JobFinished || j.ExitStatus != "0" {
		t.Errorf("Got(build, job, exit) = %s, %s, %q, want passed, finished, 0", st, j.State, j.ExitStatus)
	}
	if j := w.job(macosPipeline, second); j.State != buildkitefake.JobScheduled {
		t.Errorf("Got(job created during the stop) = %s, want scheduled (a stopping agent takes no job)", j.State)
	}
	regs := w.hostAgents(ag.host)
	if len(regs) != 1 || regs[0].ConnectionState != "disconnected" {
		t.Errorf("Got(registrations) = %+v, want one, disconnected", regs)
	}
}
