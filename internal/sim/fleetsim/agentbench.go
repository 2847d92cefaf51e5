package fleetsim

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/vmfleet/vmfleet/agentd"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/tart"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

// AgentBenchConfig is one `vmfleet bench agent` run: the cost of one agent
// check on a host with VMs VMs, through a tart executable.
type AgentBenchConfig struct {
	VMs        int
	Iterations int
	// Tart is the fake tart executable (tart/tarttest/faketart); see BuildFakeTart.
	Tart     string
	Releases []string
}

// AgentStat is the cost of one operation.
type AgentStat struct {
	Mean        Seconds `json:"mean_s"`
	P50         Seconds `json:"p50_s"`
	P99         Seconds `json:"p99_s"`
	AllocsPerOp uint64  `json:"allocs_per_op"`
	BytesPerOp  uint64  `json:"bytes_per_op"`
}

// AgentBenchResult is what an agent run measured.
type AgentBenchResult struct {
	VMs        int    `json:"vms"`
	Iterations int    `json:"iterations"`
	Tart       string `json:"tart"`
	Machine    string `json:"machine"`
	// Check is agentd's Check through the tart executable: one `tart list
	// --format json` process, parsing, evaluation, the last-check file.
	Check AgentStat `json:"check"`
	// List is one `tart list --format json` through tart.Client alone.
	List AgentStat `json:"tart_list"`
	// InMemory is the same check against an in-memory tart with the same
	// inventory: the agent's own cost, without any process.
	InMemory AgentStat `json:"check_in_memory"`
}

// AgentBench measures one agent check.
func AgentBench(ctx context.Context, cfg AgentBenchConfig) (AgentBenchResult, error) {
	res := AgentBenchResult{VMs: cfg.VMs, Iterations: cfg.Iterations, Tart: cfg.Tart, Machine: machine()}
	if cfg.VMs < 0 || cfg.Iterations < 1 || cfg.Tart == "" || len(cfg.Releases) == 0 {
		return res, fmt.Errorf("%w: agent bench: want vms ≥ 0, iterations ≥ 1, a tart executable and releases", ErrInvalidConfig)
	}
	dir, err := os.MkdirTemp("", "vmfleet-agent-bench-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	state := filepath.Join(dir, "faketart")
	env := []string{tarttest.EnvState + "=" + state}
	spec := events.ImageSpec{NameTemplate: events.DefaultNameTemplate, Releases: cfg.Releases, BunVersion: "1.2.16", BootstrapVersion: "3.6"}
	if err := seedFakeTart(env, spec, cfg.VMs); err != nil {
		return res, err
	}
	client, err := tart.New(tart.WithPath(cfg.Tart), tart.WithEnv(env...))
	if err != nil {
		return res, err
	}
	vms, err := client.List(ctx)
	if err != nil {
		return res, fmt.Errorf("tart list through %s: %w", cfg.Tart, err)
	}
	check, err := newChecker(client, spec, filepath.Join(dir, "process"))
	if err != nil {
		return res, err
	}
	list := func() error { _, err := client.List(ctx); return err }
	// Interleaved, so that both see the same machine (other processes,
	// page cache) and the difference is the agent's own cost.
	if res.Check, res.List, err = measurePair(cfg.Iterations, func() error { return check(ctx) }, list); err != nil {
		return res, err
	}
	fake := tarttest.NewFake("")
	fake.Add(vms...)
	inMem, err := newChecker(fake, spec, filepath.Join(dir, "memory"))
	if err != nil {
		return res, err
	}
	res.InMemory, _, err = measurePair(cfg.Iterations, func() error { return inMem(ctx) }, nil)
	return res, err
}

// seedFakeTart fills the fake executable's state directory, through the
// fake tart itself (in process): half the VMs local (the spec's images,
// older versions of ours, CI VMs), half OCI cache entries.
func seedFakeTart(env []string, spec events.ImageSpec, n int) error {
	run := func(args ...string) error {
		var errb strings.Builder
		if code := tarttest.Run(args, env, io.Discard, &errb); code != 0 {
			return fmt.Errorf("seed fake tart: tart %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
		}
		return nil
	}
	const base = "ghcr.io/acme/macos-base:latest"
	for i := range n {
		var err error
		switch {
		case i < len(spec.Releases):
			err = run("clone", base, spec.ImageName(spec.Releases[i]))
		case i%2 == 1:
			err = run("pull", fmt.Sprintf("ghcr.io/acme/cache-%d:latest", i))
		case i%4 == 0:
			old := spec
			old.BunVersion = fmt.Sprintf("1.1.%d", i)
			err = run("clone", base, old.ImageName(spec.Releases[i%len(spec.Releases)]))
		default:
			err = run("clone", base, fmt.Sprintf("ci-job-%d", i))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// newChecker makes an agent over t and runs its first check (which also
// asks tart --version); the check it returns is the timed one.
func newChecker(t agentd.Tart, spec events.ImageSpec, dir string) (func(context.Context) error, error) {
	a, err := agentd.New(agentd.Config{Hostname: "bench", Images: spec, TartHome: filepath.Join(dir, "tart"), StateDir: filepath.Join(dir, "state")}, t)
	if err != nil {
		return nil, err
	}
	check := func(ctx context.Context) error {
		h, err := a.Check(ctx)
		if err == nil && h.TartError != "" {
			err = fmt.Errorf("check: tart failed: %s", h.TartError)
		}
		return err
	}
	return check, check(context.Background())
}

// measurePair times n calls of f and of g (nil: none), alternately, and
// counts their allocations.
func measurePair(n int, f, g func() error) (AgentStat, AgentStat, error) {
	var a, b sampleSet
	for range n {
		if err := a.time(f); err != nil {
			return AgentStat{}, AgentStat{}, err
		}
		if g != nil {
			if err := b.time(g); err != nil {
				return AgentStat{}, AgentStat{}, err
			}
		}
	}
	return a.stat(), b.stat(), nil
}

// sampleSet is the durations and allocations of one timed operation.
type sampleSet struct {
	d              []time.Duration
	mallocs, bytes uint64
}

func (s *sampleSet) time(f func() error) error {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	err := f()
	d := time.Since(start)
	runtime.ReadMemStats(&after)
	s.d = append(s.d, d)
	s.mallocs += after.Mallocs - before.Mallocs
	s.bytes += after.TotalAlloc - before.TotalAlloc
	return err
}

func (s *sampleSet) stat() AgentStat {
	n := len(s.d)
	if n == 0 {
		return AgentStat{}
	}
	var sum time.Duration
	for _, x := range s.d {
		sum += x
	}
	d := slices.Sorted(slices.Values(s.d))
	return AgentStat{
		Mean: Seconds(sum / time.Duration(n)), P50: Seconds(d[n/2]), P99: Seconds(d[min(n-1, n*99/100)]),
		AllocsPerOp: s.mallocs / uint64(n), BytesPerOp: s.bytes / uint64(n),
	}
}

// BuildFakeTart builds the fake tart executable (tart/tarttest/faketart)
// into dir with the go command, from this module's source: `vmfleet bench
// agent` without --tart needs the Go toolchain and the source tree.
func BuildFakeTart(ctx context.Context, dir string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("the go command is not in PATH: install Go, or pass --tart with a built fake tart (go build -o tart ./tart/tarttest/faketart): %w", err)
	}
	out := filepath.Join(dir, "tart")
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", out, "github.com/vmfleet/vmfleet/tart/tarttest/faketart")
	if _, file, _, ok := runtime.Caller(0); ok {
		if st, err := os.Stat(filepath.Dir(file)); err == nil && st.IsDir() {
			cmd.Dir = filepath.Dir(file)
		}
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build faketart (run from the vmfleet source tree, or pass --tart): %w\n%s", err, strings.TrimSpace(string(b)))
	}
	return out, nil
}
