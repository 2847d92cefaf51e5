package fleetsim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/vmfleet/vmfleet/agentd"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/rungroup"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

// foreignVM is on every host and is not ours: nothing may ever delete it.
const foreignVM = "macos-sequoia-xcode-base"

// hostDiskGB is a simulated host's disk: room for the current images and
// a staged set beside them.
const hostDiskGB = 1000

// disk is the host's simulated disk: hostDiskGB, less what its VMs take.
func (h *simHost) disk(path string) *events.Disk {
	vms, err := h.fake.List(context.Background())
	if err != nil {
		return nil
	}
	const gib = 1 << 30
	used := int64(0)
	for _, v := range vms {
		used += int64(v.SizeGB) * gib
	}
	used += h.chaos.fill.Load() // a disk filling up (chaos)
	return &events.Disk{Path: path, TotalBytes: hostDiskGB * gib, FreeBytes: max(hostDiskGB*gib-used, 0)}
}

// simHost is one simulated host: an in-memory tart and, once started, a real
// agent with its own NATS connection.
type simHost struct {
	name  string
	token string
	fake  *tarttest.Fake
	tart  *hostTart
	agent atomic.Pointer[agentd.Agent]
	// busy is the VM running a job ("" when none).
	busy string
	// chaos is what the chaos does to the host (chaos_hosts.go).
	chaos hostChaos
}

func hostName(i, n int) string {
	return fmt.Sprintf("mac-%0*d", max(2, len(strconv.Itoa(n))), i+1)
}

// makeHosts builds every host's inventory: each release's image, except on
// the Missing hosts (spread over the fleet, each missing one release in
// turn); the foreign VM; and on the Busy hosts (taken from the end, among
// hosts that miss nothing) the last release's image running a job.
func (s *Sim) makeHosts() {
	spec := s.cfg.spec()
	missing := map[int]string{}
	for k := range s.cfg.Missing {
		missing[k*s.cfg.Hosts/s.cfg.Missing] = spec.Releases[k%len(spec.Releases)]
	}
	busy := map[int]bool{}
	for i := s.cfg.Hosts - 1; i >= 0 && len(busy) < s.cfg.Busy; i-- {
		if _, ok := missing[i]; !ok {
			busy[i] = true
		}
	}
	s.hosts = make([]*simHost, s.cfg.Hosts)
	s.byToken = make(map[string]*simHost, s.cfg.Hosts)
	for i := range s.hosts {
		name := hostName(i, s.cfg.Hosts)
		token, _ := events.HostToken(name)
		h := &simHost{name: name, token: token, fake: tarttest.NewFake("")}
		h.tart = &hostTart{Fake: h.fake, host: token, sim: s}
		// tart changes under $TART_HOME/vms wake a real agent (fsnotify);
		// the in-memory tart wakes it directly.
		h.fake.OnChange = h.trigger
		h.fake.Add(events.VM{Name: foreignVM, DiskGB: 100, SizeGB: 35})
		for _, r := range spec.Releases {
			if missing[i] != r {
				h.fake.Add(events.VM{Name: spec.ImageName(r), DiskGB: 80, SizeGB: 55})
			}
		}
		if busy[i] {
			h.busy = spec.ImageName(spec.Releases[len(spec.Releases)-1])
			h.fake.SetState(h.busy, events.VMRunning)
		}
		h.fake.SetDelay(tarttest.OpClone, s.tm.Pull)
		h.fake.SetDelay(tarttest.OpDelete, s.tm.Delete)
		s.hosts[i] = h
		s.byToken[token] = h
	}
}

// specRetry is how soon an agent (and the shared spec watch) watches the
// spec again after a watch failed.
const specRetry = 100 * time.Millisecond

// startAgents starts every host's agent in g, each on its own connection
// or sharing one with its neighbours (Config.AgentsPerConn).
func (s *Sim) startAgents(ctx context.Context, g *rungroup.Group, natsURL, dir string) error {
	per, err := s.cfg.agentsPerConn(fdLimit())
	if err != nil {
		return err
	}
	s.perConn = per
	if per > 1 {
		// Agents sharing connections share one watch of the spec too.
		s.specHub = newSpecHub()
		kv := *s.kv.Load()
		g.Go(func() error { s.specHub.run(ctx, kv, specRetry); return nil })
	}
	s.shared = make([]*agentConn, ceilDiv(len(s.hosts), per))
	s.resMu.Lock()
	s.res.AgentsPerConn, s.res.AgentConns = per, len(s.shared)
	s.resMu.Unlock()
	for i, h := range s.hosts {
		if i%100 == 0 {
			s.setStatusText(fmt.Sprintf("starting the agents: %d of %d started", i, len(s.hosts)))
		}
		conn, err := s.agentConnFor(i, h, natsURL, s.opts.compLog.With("component", "agent"))
		if err != nil {
			return err
		}
		if err := s.startAgentOn(ctx, g, h, conn, dir); err != nil {
			return err
		}
	}
	return nil
}

// startAgent starts h's agent in g on a connection of its own; the chaos
// may stop it alone (h.chaos.stopAgent), which ends nothing else.
func (s *Sim) startAgent(ctx context.Context, g *rungroup.Group, h *simHost, natsURL, dir string) error {
	conn, err := s.ownAgentConn(h, natsURL, s.opts.compLog.With("component", "agent"))
	if err != nil {
		return err
	}
	return s.startAgentOn(ctx, g, h, conn, dir)
}

// startAgentOn starts h's agent in g on conn, which it releases when the
// agent ends (or fails to start).
func (s *Sim) startAgentOn(ctx context.Context, g *rungroup.Group, h *simHost, conn *agentConn, dir string) error {
	log := s.opts.compLog.With("component", "agent")
	home := filepath.Join(dir, "hosts", h.name)
	// tart makes $TART_HOME on a real host; without it every check
	// would look for the nearest directory to measure the disk of.
	if err := os.MkdirAll(filepath.Join(home, "tart"), 0o755); err != nil {
		conn.release()
		return err
	}
	a, err := agentd.New(agentd.Config{
		Hostname: h.name, Images: s.cfg.spec(),
		TartHome: filepath.Join(home, "tart"), StateDir: filepath.Join(home, "state"),
		Interval: s.tm.CheckInterval, Heartbeat: s.tm.Heartbeat,
		TartTimeout: 30 * time.Second, PullTimeout: max(10*s.tm.Pull, time.Minute),
	}, h.tart, append([]agentd.Option{agentd.WithConn(conn.nc), agentd.WithLogger(log), agentd.WithSettle(0), agentd.WithSpecRetry(specRetry),
		// Nothing outside the process reads a simulated host's state
		// files, and its in-memory tart wakes the agent itself
		// (OnChange): no state files, no inotify watcher per host.
		agentd.WithMemoryState(), agentd.WithoutFileWatch(),
		// The images are in memory, so is the disk they fill.
		agentd.WithDisk(h.disk)}, s.agentOptions(h)...)...)
	if err != nil {
		conn.release()
		return fmt.Errorf("agent %s: %w", h.name, err)
	}
	actx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	h.chaos.running(stop, done, conn.nc)
	h.agent.Store(a)
	g.Go(func() error {
		defer close(done)
		defer conn.release()
		defer stop()
		if err := a.Run(actx); err != nil && (ctx.Err() != nil || actx.Err() == nil) {
			return fmt.Errorf("agent %s: %w", h.name, err)
		}
		return nil
	})
	return nil
}

// agentOptions are h's agent's options beside the fixed ones: the chaos's,
// and the shared spec watch.
func (s *Sim) agentOptions(h *simHost) []agentd.Option {
	opts := s.chaos.agentOptions(h)
	if s.specHub != nil {
		opts = append(opts, agentd.WithSpecWatch(s.specHub.watch))
	}
	return opts
}

// trigger asks the host's agent for a check, once it runs.
func (h *simHost) trigger() {
	if a := h.agent.Load(); a != nil {
		a.Trigger()
	}
}

// endJobs stops the jobs running on the busy hosts.
func (s *Sim) endJobs() {
	for _, h := range s.hosts {
		if h.busy != "" {
			h.fake.SetState(h.busy, events.VMStopped)
			s.emit(Event{Kind: KindJob, Host: h.token, Text: fmt.Sprintf("%s: the job in %s finished; the VM is stopped", h.token, h.busy)})
		}
	}
}
