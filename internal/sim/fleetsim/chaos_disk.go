package fleetsim

import (
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/vmfleet/vmfleet/events"
)

// prunePlanner is the agent's function that measures the disk a prune is
// planned against (agentd's planPrune: it lists the VMs, measures the disk
// and calls cleanup.Plan, under the host lock; the prune's deletes follow
// on the same call). TestChaosDeleteJudgedByPlannedDisk fails if it is
// renamed: every emergency delete would then be judged without the
// emergency.
const prunePlanner = "github.com/vmfleet/vmfleet/agentd.(*Agent).planPrune"

// plannedDisk is the disk an agent measured when it planned its latest
// prune.
type plannedDisk struct {
	disk events.Disk
	at   time.Time
}

// diskPlans are, by host, the disks the agents planned their latest prune
// against. A host's prunes run one at a time under its host lock (and an
// agent stopped by the chaos has finished its commands before the next
// one starts), so a host's every delete belongs to its latest plan.
type diskPlans struct {
	mu     sync.Mutex
	byHost map[string]plannedDisk
}

// record notes the disk host's agent planned a prune against (nil: it
// could not tell).
func (p *diskPlans) record(host string, d *events.Disk) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.byHost == nil {
		p.byHost = map[string]plannedDisk{}
	}
	pd := plannedDisk{at: time.Now()}
	if d != nil {
		pd.disk = *d
	}
	p.byHost[host] = pd
}

// latest is the disk host's agent planned its latest prune against.
func (p *diskPlans) latest(host string) (plannedDisk, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pd, ok := p.byHost[host]
	return pd, ok
}

// diskMeasure is the host's disk measure under chaos: the simulated disk,
// and, when the agent measures it to plan a prune, a record of what it
// measured (the disk its deletes are judged by).
func (c *chaosRun) diskMeasure(h *simHost) func(path string) *events.Disk {
	return func(path string) *events.Disk {
		d := h.disk(path)
		if calledBy(prunePlanner) {
			c.plans.record(h.token, d)
		}
		return d
	}
}

// calledBy tells whether fn is among the caller's callers.
func calledBy(fn string) bool {
	var pcs [8]uintptr
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs[:])])
	for {
		f, more := frames.Next()
		if f.Function == fn {
			return true
		}
		if !more {
			return false
		}
	}
}

// emergencyPlanned tells whether the disk host's agent planned its latest
// prune against was in a disk emergency under the spec in force (free space
// under the cleanup policy's threshold, as package cleanup decides it), and
// says what that disk was.
func (c *chaosRun) emergencyPlanned(host string) (bool, string) {
	spec, _ := c.s.world.current()
	pd, ok := c.plans.latest(host)
	if !ok {
		return false, "no prune planned"
	}
	threshold := spec.Cleanup.DiskEmergencyFreeBytes
	d := pd.disk
	if d.TotalBytes == 0 {
		return false, "planned against an unknown disk"
	}
	emergency := threshold > 0 && d.FreeBytes < threshold
	return emergency, fmt.Sprintf("planned against %.1f GB free of %.1f GB (emergency below %.1f GB)",
		float64(d.FreeBytes)/(1<<30), float64(d.TotalBytes)/(1<<30), float64(threshold)/(1<<30))
}

// deleteRules is what a delete of name on host is judged by: the world's
// rules and, under chaos, whether the disk the host's agent planned the
// prune against was in an emergency (the cleanup rules let an emergency
// prune before the replacement is ready, outside the window and within the
// removal grace). The disk at the moment of the delete does not matter: an
// agent deletes what its plan allowed, and the emergency may have ended
// (the first deletes freed the disk) by the time a later delete comes.
func (s *Sim) deleteRules(host, name string) rules {
	r := s.world.rules(name)
	if s.chaos != nil {
		r.emergency, _ = s.chaos.emergencyPlanned(host)
	}
	return r
}
