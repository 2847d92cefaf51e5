package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
	"github.com/vmfleet/vmfleet/internal/sim/fleetsim"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

// TestDemoAndBenchConfigDocumented checks every field of the demo's and the
// benches' configs has a flag, an env name and a row naming them in
// docs/configuration.md.
func TestDemoAndBenchConfigDocumented(t *testing.T) {
	docs := docsSection(t, "## `vmfleet demo` and `vmfleet bench`")
	for _, tt := range []struct {
		name, sub, fileEnv string
	}{
		{"demo", "### `vmfleet demo`", demoConfigEnv},
		{"bench converge", "### `vmfleet bench converge`", benchConvergeEnv},
		{"bench ingest", "### `vmfleet bench ingest`", benchIngestEnv},
		{"bench agent", "### `vmfleet bench agent`", benchAgentEnv},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mk, ok := configDocs[tt.name]
			if !ok {
				t.Fatalf("configDocs has no %q entry", tt.name)
			}
			section := subsection(t, docs, tt.sub)
			if !strings.Contains(section, "`"+tt.fileEnv+"`") {
				t.Errorf("docs for %s do not name the config file variable %s", tt.name, tt.fileEnv)
			}
			b := cliconfig.Bind(&cobra.Command{Use: "x"}, mk(), tt.fileEnv)
			for _, f := range b.Fields() {
				checkDocRow(t, section, f)
			}
		})
	}
}

func TestDemoConvergesAndSaysWhereTheAPIIs(t *testing.T) {
	t.Parallel()
	code, out, errOut := run(t.Context(), "demo", "--exit-when-converged", "--hosts", "4", "--missing", "2", "--busy", "1",
		"--scale", "0.0005", "--timeout", "50s", "--log-format", "json")
	if code != 0 {
		t.Fatalf("Got(demo exit) = %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"dashboard and API: http://127.0.0.1:",
		"NATS: nats://127.0.0.1:",
		"vmfleet events --nats-url nats://127.0.0.1:",
		"nats sub --server nats://127.0.0.1:",
		"host mac-01 not ready: release 13 image missing",
		"bootstrap bump: 3.6 → 3.7",
		"converged: 4/4 hosts ready on the final spec",
		"safety violations: 0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Got(demo output) without %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("Got(demo output in a pipe) with terminal escapes, want plain lines")
	}
}

func TestDemoTimesOutWithAMessage(t *testing.T) {
	t.Parallel()
	code, _, errOut := run(t.Context(), "demo", "--exit-when-converged", "--hosts", "2", "--missing", "1", "--busy", "0",
		"--build-time", "100h", "--scale", "0.0005", "--timeout", "1s")
	if code != 1 || !strings.Contains(errOut, "fleet did not converge: timed out after 1s") {
		t.Errorf("Got(demo exit, stderr) = %d, %q, want 1 and the reason", code, errOut)
	}
}

// TestBenchConvergeJSON checks the JSON's shape and the invariants on a
// small fleet: no violation, as many builds as needed and no more.
func TestBenchConvergeJSON(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name              string
		args              []string
		wantBuilds, pulls int
	}{
		{"host mode", nil, 8 * 2, 0},
		{"registry mode", []string{"--registry"}, 2, 8 * 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"bench", "converge", "--hosts", "8", "--releases", "13,14", "--scale", "0.0005", "--timeout", "50s", "--json"}, tt.args...)
			code, out, errOut := run(t.Context(), args...)
			if code != 0 {
				t.Fatalf("Got(exit) = %d, want 0\n%s\n%s", code, out, errOut)
			}
			var shape map[string]any
			if err := json.Unmarshal([]byte(out), &shape); err != nil {
				t.Fatalf("Got(output) = %q, not JSON: %v", out, err)
			}
			for _, k := range []string{"hosts", "releases", "registry", "converged", "ready_after_bump_s", "target_s", "builds_created",
				"builds_ideal", "pull_commands", "pulls", "prune_commands", "deleted", "violations", "readiness", "wall_s"} {
				if _, ok := shape[k]; !ok {
					t.Errorf("Got(JSON) without %q", k)
				}
			}
			var r fleetsim.Result
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatal(err)
			}
			if !r.Converged || len(r.Violations) != 0 || r.Violations == nil {
				t.Errorf("Got(converged, violations) = %v, %#v, want true and []", r.Converged, r.Violations)
			}
			if r.BuildsCreated != tt.wantBuilds || r.BuildsIdeal != tt.wantBuilds || r.Pulls != tt.pulls {
				t.Errorf("Got(builds created, ideal, pulls) = %d, %d, %d, want %d, %d, %d", r.BuildsCreated, r.BuildsIdeal, r.Pulls, tt.wantBuilds, tt.wantBuilds, tt.pulls)
			}
			if !r.PruneChecked || r.Deleted != 8*2 {
				t.Errorf("Got(prune checked, deleted) = %v, %d, want true, 16", r.PruneChecked, r.Deleted)
			}
			if r.Hosts != 8 || !slices.Equal(r.Releases, []string{"13", "14"}) || r.ReadyAfterBump <= 0 {
				t.Errorf("Got(hosts, releases, ready after bump) = %d, %v, %s", r.Hosts, r.Releases, r.ReadyAfterBump)
			}
		})
	}
}

func TestBenchIngestAndAgentJSON(t *testing.T) {
	t.Parallel()
	code, out, errOut := run(t.Context(), "bench", "ingest", "--hosts", "20", "--duration", "200ms", "--rate", "500", "--flood=false", "--json")
	if code != 0 {
		t.Fatalf("Got(bench ingest exit) = %d, want 0\n%s", code, errOut)
	}
	var in fleetsim.IngestResult
	if err := json.Unmarshal([]byte(out), &in); err != nil || in.Paced == nil || in.Flood != nil || in.Paced.Received != in.Paced.Published || in.Known != 20 {
		t.Errorf("Got(bench ingest JSON) = %s (%v), want a paced phase only, every event received, 20 hosts", out, err)
	}
	code, out, errOut = run(t.Context(), "bench", "agent", "--vms", "10", "--iterations", "2", "--tart", tarttest.BuildExecutable(t), "--json")
	if code != 0 {
		t.Fatalf("Got(bench agent exit) = %d, want 0\n%s", code, errOut)
	}
	var ag fleetsim.AgentBenchResult
	if err := json.Unmarshal([]byte(out), &ag); err != nil || ag.VMs != 10 || ag.Check.Mean <= 0 || ag.List.Mean <= 0 || ag.InMemory.Mean <= 0 {
		t.Errorf("Got(bench agent JSON) = %s (%v), want the three measures", out, err)
	}
}

// The staged demo tells a rollout a newcomer can follow: the stage, hosts
// getting the new images while they stay ready, the promotion, the old
// images pruned after the (shortened) grace; no host is ever not ready
// from the stage on.
func TestDemoStagedRollout(t *testing.T) {
	t.Parallel()
	code, out, errOut := run(t.Context(), "demo", "--rollout", "staged", "--exit-when-converged", "--hosts", "4", "--missing", "1", "--busy", "1",
		"--registry", "--scale", "0.0005", "--timeout", "50s")
	if code != 0 {
		t.Fatalf("Got(demo exit) = %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	at := func(want string) int {
		i := strings.Index(out, want)
		if i < 0 {
			t.Errorf("Got(demo output) without %q:\n%s", want, out)
		}
		return i
	}
	at("removal grace: images that leave every active spec are kept 10m of fleet time")
	stage := at("staged rollout: bootstrap 3.6 → 3.7 staged beside 3.6")
	partly := at("ready; staged images: 1 of 2 held")
	held := at("ready; holds every staged image too")
	promoted := at("promoted by the orchestrator")
	pruned := at("deleted bun-build-macos-13-1.2.16-bootstrap-3.6")
	done := at("converged: 4/4 hosts ready on the final spec")
	at("safety violations: 0")
	at("staged rollout, from the change to the end: at worst 4 of 4 hosts ready for the spec in force; 0s of fleet time with a release no host was ready for")
	if !(stage < partly && partly < held && held < promoted && promoted < pruned && pruned < done) {
		t.Errorf("Got(positions stage %d, one image %d, both %d, promoted %d, pruned %d, converged %d), want in that order", stage, partly, held, promoted, pruned, done)
	}
	if stage >= 0 && strings.Contains(out[stage:], "not ready") {
		t.Errorf("Got(a host not ready after the stage), want every host ready throughout:\n%s", out[stage:])
	}
}
