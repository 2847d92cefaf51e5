package bkagent

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/vmfleet/vmfleet/events"
)

// The pipelines in deploy/buildkite, parsed as Buildkite would, checked
// against the tags Tags computes.

const pipelines = "../../deploy/buildkite"

type step struct {
	Label   string         `yaml:"label"`
	Command string         `yaml:"command"`
	Agents  map[string]any `yaml:"agents"`
}

func loadSteps(t *testing.T, name string) ([]step, string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(pipelines, name))
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Steps []step `yaml:"steps"`
	}
	if err := yaml.Unmarshal(b, &p); err != nil {
		t.Fatalf("Got(parse %s) = %v, want valid YAML", name, err)
	}
	if len(p.Steps) == 0 {
		t.Fatalf("Got(steps of %s) = none, want some", name)
	}
	return p.Steps, string(b)
}

// agentRules returns a step's agents as strings (interpolated with env as
// `pipeline upload` does: $VAR, ${VAR}, ${VAR:-default}); a non-string value
// (an unquoted true) fails the test: targeting compares strings.
func agentRules(t *testing.T, s step, env map[string]string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, v := range s.Agents {
		str, ok := v.(string)
		if !ok {
			t.Fatalf("step %q: agents.%s = %v (%T), want a quoted string", s.Label, k, v, v)
		}
		out[k] = os.Expand(str, func(name string) string {
			name, def, _ := strings.Cut(name, ":-")
			if v := env[name]; v != "" {
				return v
			}
			return def
		})
	}
	return out
}

// matches reports whether an agent with tags takes a job with rules, as
// Buildkite's agent targeting does: every rule's key present with the same
// value, or any value for "*".
func matches(rules map[string]string, tags []string) bool {
	have := map[string]string{}
	for _, tag := range tags {
		k, v, _ := strings.Cut(tag, "=")
		have[k] = v
	}
	for k, want := range rules {
		got, ok := have[k]
		if !ok || (want != "*" && got != want) {
			return false
		}
	}
	return true
}

var darwin = TagOptions{Operator: []string{"queue=darwin"}}

// TestBuildPipeline: the VM build step reaches exactly the target host in
// host mode, whether or not it is ready, and any vmfleet host of queue darwin
// in registry mode; it builds under a temporary name and publishes.
func TestBuildPipeline(t *testing.T) {
	t.Parallel()
	steps, text := loadSteps(t, "build-macos-vm.yml")
	if len(steps) != 1 {
		t.Fatalf("Got(%d steps) = %v, want 1", len(steps), steps)
	}
	s := steps[0]
	target := notReady14()                               // host mini-1 needs the image
	other := health(rel("14", true, events.ReasonReady)) // another host
	other.Host = "mini-2"
	hostMode := agentRules(t, s, map[string]string{events.EnvTargetHost: target.Host})
	registryMode := agentRules(t, s, nil)
	prepMode := agentRules(t, s, map[string]string{events.EnvTargetHost: target.Host, "VMFLEET_BUILD_QUEUE": "darwin-prep"})
	routing := TagOptions{ReadyQueue: "darwin-ready", NotReadyQueue: "darwin-prep"}
	tests := []struct {
		name  string
		rules map[string]string
		h     events.HostHealth
		opts  TagOptions
		want  bool
	}{
		{"host mode, the target (not ready)", hostMode, target, darwin, true},
		{"host mode, the target once ready", hostMode, ready14(), darwin, true},
		{"host mode, another host", hostMode, other, darwin, false},
		{"host mode, the target in another queue", hostMode, target, TagOptions{Operator: []string{"queue=linux"}}, false},
		{"registry mode, any vmfleet host", registryMode, other, darwin, true},
		{"registry mode, a host not ready", registryMode, target, darwin, true},
		{"queue routing, host mode, the target", prepMode, target, routing, true},
		{"queue routing, registry mode, a host not ready", agentRules(t, s, map[string]string{"VMFLEET_BUILD_QUEUE": "darwin-prep"}), target, routing, true},
	}
	for _, tc := range tests {
		if got := matches(tc.rules, Tags(tc.h, tc.opts)); got != tc.want {
			t.Errorf("%s: Got(matches(%v, %v)) = %v, want %v", tc.name, tc.rules, Tags(tc.h, tc.opts), got, tc.want)
		}
	}
	if want := map[string]string{KeyQueue: "darwin", KeyHost: "mini-1"}; fmt.Sprint(hostMode) != fmt.Sprint(want) {
		t.Errorf("Got(host mode agents) = %v, want %v", hostMode, want)
	}
	for _, want := range []string{
		`vmfleet agent room --image "$$VMFLEET_IMAGE"`,
		"vmfleet-tmp-$${VMFLEET_IMAGE}-$${BUILDKITE_BUILD_NUMBER}",
		`vmfleet agent publish-image --from "$$tmp" --to "$$VMFLEET_IMAGE"`,
		`tart push "$$VMFLEET_IMAGE" "$$VMFLEET_REGISTRY_REF"`,
	} {
		if !strings.Contains(s.Command, want) {
			t.Errorf("Got(command) without %q, want it:\n%s", want, s.Command)
		}
	}
	for _, env := range []string{events.EnvImage, events.EnvKey, events.EnvRelease, events.EnvBun, events.EnvBootstrap, events.EnvTargetHost, events.EnvRegistryRef} {
		if !strings.Contains(text, env) {
			t.Errorf("Got(build-macos-vm.yml) without %s, want every variable of the build contract used or documented", env)
		}
	}
}

// TestExamplePipeline: every macOS step asks for tags that Tags produces for
// a host where its release is ready, and no host where it is not.
func TestExamplePipeline(t *testing.T) {
	t.Parallel()
	steps, _ := loadSteps(t, "example-pipeline.yml")
	macos := 0
	for _, s := range steps {
		rules := agentRules(t, s, nil)
		if rules[KeyQueue] != "darwin" {
			continue
		}
		macos++
		var release string
		for k, v := range rules {
			if r, ok := strings.CutPrefix(k, KeyReady+"-macos-"); ok && v == "true" {
				release = r
			}
		}
		if release == "" {
			t.Errorf("step %q: Got(agents) = %v, want vm-ready-macos-<r>: \"true\"", s.Label, rules)
			continue
		}
		ready := health(rel(release, true, events.ReasonReady), rel("99", false, events.ReasonImageMissing))
		single := health(rel(release, true, events.ReasonReady))
		for _, h := range []events.HostHealth{ready, single} {
			if tags := Tags(h, darwin); !matches(rules, tags) {
				t.Errorf("step %q: Got(matches(%v, ready host %v)) = false, want true", s.Label, rules, tags)
			}
		}
		for _, reason := range []events.Reason{events.ReasonImageMissing, events.ReasonBootstrapMismatch, events.ReasonTartError, events.ReasonForcedNotReady} {
			h := health(rel(release, false, reason))
			if tags := Tags(h, darwin); matches(rules, tags) {
				t.Errorf("step %q: Got(matches(%v, %s host %v)) = true, want false", s.Label, rules, reason, tags)
			}
		}
	}
	if macos < 2 {
		t.Errorf("Got(%d macOS steps) = %d, want at least 2 (one per release)", macos, macos)
	}
}

// TestSeedPipelineStillWorks: a seed pipeline's `"vm-ready": "true"` reaches a
// ready single-release host, and never a host checking several releases
// (which has no unsuffixed tags: ready for which release?).
func TestSeedPipelineStillWorks(t *testing.T) {
	t.Parallel()
	seed := map[string]string{KeyQueue: "darwin", KeyReady: "true"}
	tests := []struct {
		name string
		h    events.HostHealth
		want bool
	}{
		{"single release, ready", ready14(), true},
		{"single release, not ready", notReady14(), false},
		{"two releases, both ready", health(rel("13", true, events.ReasonReady), rel("14", true, events.ReasonReady)), false},
	}
	for _, tc := range tests {
		if got := matches(seed, Tags(tc.h, darwin)); got != tc.want {
			t.Errorf("%s: Got(matches) = %v, want %v", tc.name, got, tc.want)
		}
	}
	if !slices.Contains(Tags(ready14(), darwin), "vm-ready=true") {
		t.Error("Got(no vm-ready=true on a ready single-release host), want it")
	}
}

// TestRoutingWhileTwoSpecsAreActive: the docs/routing.md example. During a
// staged bootstrap bump, main keeps asking for vm-ready-macos-14 and reaches
// every host ready on the current spec; a branch that needs the staged image
// asks for vm-image-<its name> and reaches only hosts that hold it, whether
// the image is staged or, after promotion, current.
func TestRoutingWhileTwoSpecsAreActive(t *testing.T) {
	t.Parallel()
	const img14next = "bun-build-macos-14-1.2.16-bootstrap-3.7"
	mainStep := map[string]string{KeyQueue: "darwin", "vm-ready-macos-14": "true"}
	branchStep := map[string]string{KeyQueue: "darwin", "vm-image-" + img14next: "true"}
	staged := func(ready bool, reason events.Reason) []events.ReleaseStatus {
		st := rel("14", ready, reason)
		st.ExpectedImage, st.Bootstrap = img14next, "3.7"
		return []events.ReleaseStatus{st}
	}
	hostOld := ready14()
	hostOld.Staged = staged(false, events.ReasonImageMissing)
	hostBoth := ready14()
	hostBoth.Staged = staged(true, events.ReasonReady)
	hostFull := ready14()
	hostFull.Staged = staged(false, events.ReasonNoSpace)
	promoted := health(staged(true, events.ReasonReady)...) // 3.7 is current now
	tests := []struct {
		name         string
		h            events.HostHealth
		main, branch bool
	}{
		{"current image only", hostOld, true, false},
		{"both images", hostBoth, true, true},
		{"no room for the staged image", hostFull, true, false},
		{"after promotion", promoted, true, true},
		{"not ready at all", notReady14(), false, false},
	}
	for _, tc := range tests {
		tags := Tags(tc.h, darwin)
		if got := matches(mainStep, tags); got != tc.main {
			t.Errorf("%s: Got(main step matches %v) = %v, want %v", tc.name, tags, got, tc.main)
		}
		if got := matches(branchStep, tags); got != tc.branch {
			t.Errorf("%s: Got(branch step matches %v) = %v, want %v", tc.name, tags, got, tc.branch)
		}
	}
}
