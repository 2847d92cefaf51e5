package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus/bustest"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

// The vmfleet binary for process-level tests, built once per test run.
var vmfleetBin struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// TestMain removes the vmfleet binary built for process-level tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if vmfleetBin.dir != "" {
		_ = os.RemoveAll(vmfleetBin.dir)
	}
	os.Exit(code)
}

func buildVMFleet(t *testing.T) string {
	t.Helper()
	vmfleetBin.once.Do(func() {
		vmfleetBin.dir, vmfleetBin.err = os.MkdirTemp("", "vmfleet-bin-")
		if vmfleetBin.err != nil {
			return
		}
		vmfleetBin.path = filepath.Join(vmfleetBin.dir, "vmfleet")
		out, err := exec.Command("go", "build", "-o", vmfleetBin.path, ".").CombinedOutput()
		if err != nil {
			vmfleetBin.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if vmfleetBin.err != nil {
		t.Fatal(vmfleetBin.err)
	}
	return vmfleetBin.path
}

// proc is one host for process tests: a fake tart state and a clean environment.
type proc struct {
	t     *testing.T
	state *tarttest.State
	env   []string
	home  string
}

func newProc(t *testing.T, tartVersion string) *proc {
	t.Helper()
	home := t.TempDir()
	st := tarttest.NewState(t, "", tartVersion)
	env := append([]string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "VMFLEET_LOG_FORMAT=text",
		"VMFLEET_TART=" + tarttest.BuildExecutable(t), "TART_HOME=" + filepath.Join(home, "tart"),
	}, st.Env()...)
	return &proc{t: t, state: st, env: env, home: home}
}

// run runs vmfleet with args and extra env, returning stdout, stderr and the exit code.
func (p *proc) run(extraEnv []string, args ...string) (string, string, int) {
	p.t.Helper()
	bin := buildVMFleet(p.t) // first: the build must not eat the run's time
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(append([]string(nil), p.env...), extraEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		p.t.Fatalf("run vmfleet %v: %v", args, err)
	}
	p.t.Logf("vmfleet %s → exit %d\nstderr: %s", strings.Join(args, " "), code, stderr.String())
	return stdout.String(), stderr.String(), code
}

// checkJSON is the part of `agent check --json` the seed's users rely on,
// decoded by field name so a renamed field fails the test.
type checkJSON struct {
	Host     string `json:"host"`
	Releases []struct {
		Release       string `json:"release"`
		ExpectedImage string `json:"expected_image"`
		Ready         *bool  `json:"ready"`
		Reason        string `json:"reason"`
		Detail        string `json:"detail"`
	} `json:"releases"`
	VMs []struct {
		Name   string `json:"name"`
		Source string `json:"source"`
	} `json:"vms"`
	TartVersion string `json:"tart_version"`
	TartError   string `json:"tart_error"`
}

func TestAgentCheckProcess(t *testing.T) {
	t.Parallel()
	img13, img14 := "bun-build-macos-13-1.2.16-bootstrap-3.6", "bun-build-macos-14-1.2.16-bootstrap-3.6"
	lookalike := img13 + "0" // ...-bootstrap-3.60
	type rel struct{ release, reason string }
	tests := []struct {
		name   string
		env    []string
		args   []string
		fault  func(*tarttest.State)
		code   int
		want   []rel
		detail string
	}{
		{name: "ready", code: 0, want: []rel{{"14", "ready"}}},
		{name: "seed env, lookalike", env: []string{"MACOS_VERSIONS_TO_CHECK=13 14"}, code: 1,
			want: []rel{{"13", "bootstrap_mismatch"}, {"14", "ready"}}, detail: lookalike},
		{name: "seed single release", env: []string{"MACOS_RELEASE=13", "REQUIRED_BOOTSTRAP_VERSION=3.60"}, code: 0,
			want: []rel{{"13", "ready"}}},
		{name: "flags over env", env: []string{"MACOS_RELEASE=13"}, args: []string{"--release", "14", "--bun-version", "1.2.17"}, code: 1,
			want: []rel{{"14", "image_missing"}}, detail: img14},
		{name: "tart fails", fault: func(s *tarttest.State) { s.Fail(tarttest.OpList) }, code: 2,
			want: []rel{{"14", "tart_error"}}, detail: "tart list"},
		{name: "tart prints garbage", fault: func(s *tarttest.State) { s.Garbage(tarttest.OpList) }, code: 2,
			want: []rel{{"14", "tart_error"}}, detail: "unparseable"},
	}
	for _, version := range []string{"2.20.0", "2.35.0"} { // SizeOnDisk, Accessed
		for _, tt := range tests {
			t.Run(version+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				p := newProc(t, version)
				p.state.Add(events.VM{Name: img14, SizeGB: 21, DiskGB: 50}, events.VM{Name: lookalike}, events.VM{Name: "ghcr.io/acme/macos:14", Source: "oci"})
				if tt.fault != nil {
					tt.fault(p.state)
				}
				stdout, _, code := p.run(tt.env, append([]string{"agent", "check", "--json", "--host", "Mac.CI-01"}, tt.args...)...)
				if code != tt.code {
					t.Errorf("Got(exit code) = %d, want %d", code, tt.code)
				}
				var got checkJSON
				if err := json.Unmarshal([]byte(stdout), &got); err != nil {
					t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
				}
				if want, _ := events.HostToken("Mac.CI-01"); got.Host != want {
					t.Errorf("Got(host) = %q, want %q", got.Host, want)
				}
				var rels []rel
				for _, r := range got.Releases {
					rels = append(rels, rel{r.Release, r.Reason})
					if r.Ready == nil || *r.Ready != (r.Reason == "ready") || !strings.HasPrefix(r.ExpectedImage, "bun-build-macos-"+r.Release+"-") {
						t.Errorf("Got(release %s) = ready %v expected %q", r.Release, r.Ready, r.ExpectedImage)
					}
				}
				if fmt.Sprint(rels) != fmt.Sprint(tt.want) {
					t.Errorf("Got(releases) = %v, want %v", rels, tt.want)
				}
				if tt.detail != "" && !strings.Contains(stdout, tt.detail) {
					t.Errorf("Got(output) lacks %q:\n%s", tt.detail, stdout)
				}
				if tt.code != 2 && (len(got.VMs) != 3 || got.TartVersion != version) {
					t.Errorf("Got(vms, tart_version) = %v, %q, want 3 VMs and %s", got.VMs, got.TartVersion, version)
				}
				if calls := p.state.CallCount(tarttest.OpList); calls != 1 {
					t.Errorf("Got(tart list calls) = %d, want 1", calls)
				}
			})
		}
	}
}

func TestAgentCheckProcessTable(t *testing.T) {
	t.Parallel()
	p := newProc(t, "")
	p.state.Add(events.VM{Name: "bun-build-macos-14-1.2.16-bootstrap-3.6"})
	stdout, _, code := p.run([]string{"MACOS_VERSIONS_TO_CHECK=13 14"}, "agent", "check")
	if code != 1 {
		t.Errorf("Got(exit code) = %d, want 1", code)
	}
	for _, want := range []string{"RELEASE", "EXPECTED IMAGE", "READY", "REASON", "bun-build-macos-13-1.2.16-bootstrap-3.6", "image_missing", "yes"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("Got(table) lacks %q:\n%s", want, stdout)
		}
	}
}

func TestAgentCheckProcessHang(t *testing.T) {
	t.Parallel()
	p := newProc(t, "2.35.0")
	p.state.Hang(tarttest.OpList)
	start := time.Now()
	stdout, _, code := p.run(nil, "agent", "check", "--json", "--tart-timeout", "500ms")
	if code != 2 || !strings.Contains(stdout, "tart_error") || !strings.Contains(stdout, "timed out") {
		t.Errorf("Got(hanging tart) = exit %d\n%s, want exit 2 with tart_error and the timeout", code, stdout)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("check took %s with a 500ms tart timeout", d)
	}
}

func TestAgentBadConfigProcess(t *testing.T) {
	t.Parallel()
	p := newProc(t, "")
	tests := []struct {
		env  []string
		args []string
		want string
	}{
		{env: []string{"REQUIRED_BOOTSTRAP_VERSION=3-6"}, want: "images.bootstrap_version"},
		{args: []string{"--schedule", "often"}, want: "check.schedule"},
		{args: []string{"--interval", "soon"}, want: "--interval"},
	}
	for _, tt := range tests {
		_, stderr, code := p.run(tt.env, append([]string{"agent", "check"}, tt.args...)...)
		if code != 2 || !strings.Contains(stderr, tt.want) {
			t.Errorf("Got(%v %v) = exit %d, stderr %q, want exit 2 naming %s", tt.env, tt.args, code, stderr, tt.want)
		}
	}
}

func TestAgentForceAndStatusProcess(t *testing.T) {
	t.Parallel()
	p := newProc(t, "")
	if out, _, code := p.run(nil, "agent", "force-ready", "--ttl", "1h", "--by", "ops", "--reason", "check is wrong"); code != 0 || !strings.Contains(out, "forced ready by ops") {
		t.Fatalf("Got(force-ready) = exit %d: %s", code, out)
	}
	out, _, code := p.run(nil, "agent", "check", "--json")
	if code != 0 || !strings.Contains(out, `"forced_ready"`) {
		t.Errorf("Got(check while forced) = exit %d: %s, want 0 and forced_ready", code, out)
	}
	out, _, code = p.run(nil, "agent", "status")
	for _, want := range []string{"forced:      ready by ops", ": check is wrong", "last check:", "forced_ready"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("Got(status) = exit %d, lacks %q:\n%s", code, want, out)
		}
	}
	if out, _, code := p.run(nil, "agent", "force-not-ready", "--clear"); code != 0 || !strings.Contains(out, "cleared") {
		t.Errorf("Got(--clear) = exit %d: %s", code, out)
	}
	if _, _, code := p.run(nil, "agent", "check"); code != 1 {
		t.Errorf("Got(check after clear) = exit %d, want 1", code)
	}
}

func TestAgentPublishImageProcess(t *testing.T) {
	t.Parallel()
	final := "bun-build-macos-14-1.2.16-bootstrap-3.6"
	p := newProc(t, "")
	p.state.Add(events.VM{Name: final + "-tmp-42"})
	if _, stderr, code := p.run(nil, "agent", "publish-image", "--from", final+"-tmp-42", "--to", "macos-14"); code != 2 || !strings.Contains(stderr, "template") {
		t.Errorf("Got(publish-image to a foreign name) = exit %d: %s, want 2", code, stderr)
	}
	out, _, code := p.run(nil, "agent", "publish-image", "--from", final+"-tmp-42", "--to", final)
	if code != 0 || !strings.Contains(out, "ready") || !p.state.Has(final) || p.state.Has(final+"-tmp-42") {
		t.Errorf("Got(publish-image) = exit %d: %s; has final %v", code, out, p.state.Has(final))
	}
}

func TestAgentCheckPublishesProcess(t *testing.T) {
	t.Parallel()
	s := bustest.Server(t, "")
	nc := bustest.Conn(t, s)
	host, _ := events.HostToken("mac-pub")
	sub, err := nc.SubscribeSync("vmfleet.host." + host + ".health")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	p := newProc(t, "")
	if _, _, code := p.run(nil, "agent", "check", "--host", "mac-pub", "--nats-url", s.ClientURL()); code != 1 {
		t.Errorf("Got(exit code) = %d, want 1", code)
	}
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("no health event: %v", err)
	}
	env, err := events.Decode(m.Data)
	if err != nil {
		t.Fatal(err)
	}
	h, err := events.DecodeData[events.HostHealth](env, events.TypeHostHealth)
	if err != nil || h.Host != host || m.Header.Get("Nats-Msg-Id") != h.MsgID() {
		t.Errorf("Got(event) = %+v, %v", h, err)
	}
}
