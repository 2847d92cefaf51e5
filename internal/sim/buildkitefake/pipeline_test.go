package buildkitefake

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMatchAgent(t *testing.T) {
	tests := []struct {
		name  string
		rules []string
		tags  []string
		want  bool
	}{
		{"exact", []string{"queue=darwin", "vm-ready-macos-14=true"}, []string{"queue=darwin", "vm-ready-macos-14=true", "x=y"}, true},
		{"value differs", []string{"queue=darwin", "vm-ready-macos-14=true"}, []string{"queue=darwin", "vm-ready-macos-14=false"}, false},
		{"tag missing", []string{"queue=darwin", "vm-ready-macos-14=true"}, []string{"queue=darwin"}, false},
		{"wildcard any value", []string{"queue=darwin", "vmfleet-host=*"}, []string{"queue=darwin", "vmfleet-host=mac-0"}, true},
		{"wildcard needs the key", []string{"queue=darwin", "vmfleet-host=*"}, []string{"queue=darwin"}, false},
		{"wildcard prefix", []string{"queue=darwin-*"}, []string{"queue=darwin-prep"}, true},
		{"wildcard prefix misses", []string{"queue=darwin-*"}, []string{"queue=linux"}, false},
		{"no queue tag is default", []string{"queue=default"}, []string{"os=linux"}, true},
		{"no queue tag is not darwin", []string{"queue=darwin"}, []string{"os=linux"}, false},
		{"default job skips other queues", []string{"queue=default"}, []string{"queue=darwin"}, false},
		{"value with =", []string{"k=a=b"}, []string{"k=a=b", "queue=default"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := matchAgent(tt.rules, tt.tags); got != tt.want {
				t.Errorf("Got(matchAgent(%v, %v)) = %v, want %v", tt.rules, tt.tags, got, tt.want)
			}
		})
	}
}

func TestInterpolate(t *testing.T) {
	env := map[string]string{"A": "a", "EMPTY": ""}
	tests := []struct{ in, want string }{
		{"$A ${A}", "a a"},
		{"${B:-*} ${EMPTY:-d} ${EMPTY-d} ${B-d}", "* d  d"},
		{"$$A $${A:?x}", "$A ${A:?x}"},
		{"$B.", "."},
		{"cost: 5$", "cost: 5$"},
		{"${A:-$EMPTY}x", "ax"},
	}
	for _, tt := range tests {
		if got, err := interpolate(tt.in, env); err != nil || got != tt.want {
			t.Errorf("Got(interpolate(%q)) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := interpolate("${B:?needed}", env); err == nil || !strings.Contains(err.Error(), "needed") {
		t.Errorf("Got(interpolate of an unset :?) error = %v, want the message", err)
	}
}

// TestParseVMPipeline: the VM build pipeline vmfleet ships, uploaded with a
// host-mode build's env, targets that host; without a target host, any
// vmfleet builder in the queue.
func TestParseVMPipeline(t *testing.T) {
	src, err := os.ReadFile("../../../deploy/buildkite/build-macos-vm.yml")
	if err != nil {
		t.Fatal(err)
	}
	host, err := parsePipeline(src, map[string]string{"VMFLEET_TARGET_HOST": "mac-0", "VMFLEET_IMAGE": "img"})
	if err != nil {
		t.Fatal(err)
	}
	if len(host) != 1 {
		t.Fatalf("Got(jobs) = %d, want 1", len(host))
	}
	if diff := cmp.Diff([]string{"queue=darwin", "vmfleet-host=mac-0"}, host[0].Agents); diff != "" {
		t.Errorf("host mode agents rules (-want +got):\n%s", diff)
	}
	if host[0].ConcurrencyGroup != "vmfleet/build-macos-vm/mac-0" || host[0].Concurrency != 1 {
		t.Errorf("Got(concurrency) = %q/%d, want vmfleet/build-macos-vm/mac-0 / 1", host[0].ConcurrencyGroup, host[0].Concurrency)
	}
	if !strings.Contains(host[0].Command, `vmfleet agent publish-image --from "$tmp" --to "$VMFLEET_IMAGE"`) {
		t.Errorf("Got(command) = %q, want $$ unescaped to $ for the job's shell", host[0].Command)
	}
	if host[0].Label != ":hammer_and_wrench: :mac: build img" {
		t.Errorf("Got(label) = %q, want the image interpolated", host[0].Label)
	}
	reg, err := parsePipeline(src, map[string]string{"VMFLEET_BUILD_QUEUE": "darwin-prep"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"queue=darwin-prep", "vmfleet-host=*"}, reg[0].Agents); diff != "" {
		t.Errorf("registry mode agents rules (-want +got):\n%s", diff)
	}
	if !matchAgent(reg[0].Agents, []string{"queue=darwin-prep", "vmfleet-host=mac-1"}) || matchAgent(host[0].Agents, []string{"queue=darwin", "vmfleet-host=mac-1"}) {
		t.Errorf("Got(routing) wrong: registry mode must reach any builder, host mode only mac-0")
	}
}

func TestParsePipelineForms(t *testing.T) {
	src := `
env: {A: top}
agents: {queue: ci}
steps:
  - wait
  - commands: ["echo 1", "echo 2"]
    env: {B: step}
  - command: echo 3
    agents: ["queue=other", "os=linux"]
  - block: ":rocket:"
`
	got, err := parsePipeline([]byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Command != "echo 1\necho 2" || strings.Join(got[0].Agents, ",") != "queue=ci" ||
		got[0].Env["A"] != "top" || got[0].Env["B"] != "step" || strings.Join(got[1].Agents, ",") != "queue=other,os=linux" {
		t.Errorf("Got(parsePipeline) = %+v", got)
	}
	if _, err := parsePipeline([]byte("steps: [wait]"), nil); err == nil {
		t.Errorf("Got(a pipeline without a command step) no error, want one")
	}
	if _, err := New(t.Context(), WithAgentPipeline(org, pipe, []byte("steps: ["))); err == nil {
		t.Errorf("Got(WithAgentPipeline of bad YAML) no error, want one")
	}
}
