package hosts

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/ratelog"
)

// State is one host's latest accepted health. It is never changed once
// stored: ingest replaces the pointer, so readers need no lock after loading it.
type State struct {
	Health   *events.HostHealth // shared: never modify it
	LastSeen time.Time
	// checked is Health.CheckedAt, capped at when NATS stored the event:
	// what a later boot's check is ordered against.
	checked time.Time
}

const numShards = 32

type shard struct {
	mu    sync.RWMutex
	hosts map[string]*State
	_     [32]byte // keep shards' locks off one cache line
}

// Fleet is the hosts' state. Ingest is the fast path: decode, compare,
// store, mark dirty. Everything else happens in the reconcile pass.
type Fleet struct {
	cfg          Config
	deps         Deps
	subj         events.Subjects
	healthPrefix string // "<prefix>.host."
	shards       [numShards]shard

	dirtyMu sync.Mutex
	dirty   map[string]struct{}
	wake    chan struct{} // capacity 1

	caughtUp atomic.Bool
	ingestQ  []chan inMsg // set by Follow before consuming
	workers  sync.WaitGroup

	received   atomic.Uint64
	duplicates atomic.Uint64
	// unknownReasons counts release statuses with a reason this version
	// does not know (a newer agent's), taken as not ready.
	unknownReasons atomic.Uint64
	rejected       [numRejectReasons]atomic.Uint64
	// onReject is called for every rejected event (metrics, rate-limited log).
	onReject  func(reason rejectReason, source string, err error)
	rejectLog ratelog.Limiter
}

// New makes an empty fleet reading the health subjects of subj; its ingest
// metrics go on d.Reg, if any.
func New(subj events.Subjects, cfg Config, d Deps) (*Fleet, error) {
	f := &Fleet{
		cfg:          cfg.WithDefaults(),
		deps:         d.withDefaults(),
		subj:         subj,
		healthPrefix: subj.Prefix + ".host.",
		dirty:        map[string]struct{}{},
		wake:         make(chan struct{}, 1),
		onReject:     func(rejectReason, string, error) {},
	}
	for i := range f.shards {
		f.shards[i].hosts = map[string]*State{}
	}
	if d.Reg != nil {
		if err := f.register(d.Reg); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	return f, nil
}

// Config is the configuration in force, defaults applied.
func (f *Fleet) Config() Config { return f.cfg }

func (f *Fleet) shard(host string) *shard { return &f.shards[fnv32(host)%numShards] }

// fnv32 is the FNV-1a hash of s: the fleet's shard of a host, the ingest
// worker of a subject.
func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}

func (f *Fleet) markDirty(host string) {
	f.dirtyMu.Lock()
	f.dirty[host] = struct{}{}
	f.dirtyMu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Wake receives once after hosts were marked dirty; a burst is one wake-up.
func (f *Fleet) Wake() <-chan struct{} { return f.wake }

// TakeDirty returns the hosts marked dirty since the last call.
func (f *Fleet) TakeDirty() []string {
	f.dirtyMu.Lock()
	defer f.dirtyMu.Unlock()
	if len(f.dirty) == 0 {
		return nil
	}
	out := make([]string, 0, len(f.dirty))
	for h := range f.dirty {
		out = append(out, h)
	}
	clear(f.dirty)
	return out
}

// Get returns a host's state, or nil.
func (f *Fleet) Get(host string) *State {
	sh := f.shard(host)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return sh.hosts[host]
}

// Each calls fn for every host, one shard at a time under its read lock; fn
// must be quick and must not call back into the fleet.
func (f *Fleet) Each(fn func(host string, s *State)) {
	for i := range f.shards {
		sh := &f.shards[i]
		sh.mu.RLock()
		for k, s := range sh.hosts {
			fn(k, s)
		}
		sh.mu.RUnlock()
	}
}

// Len is the number of known hosts.
func (f *Fleet) Len() int {
	n := 0
	for i := range f.shards {
		f.shards[i].mu.RLock()
		n += len(f.shards[i].hosts)
		f.shards[i].mu.RUnlock()
	}
	return n
}

// Drop removes host from the fleet if its state is still s: a report
// ingested since s was read keeps the host.
func (f *Fleet) Drop(host string, s *State) {
	sh := f.shard(host)
	sh.mu.Lock()
	if sh.hosts[host] == s {
		delete(sh.hosts, host)
	}
	sh.mu.Unlock()
}

// StaleAt is when a host becomes stale: StaleHeartbeats of its heartbeat
// after it was last seen.
func (f *Fleet) StaleAt(s *State) time.Time {
	hb := f.cfg.DefaultHeartbeat
	if s.Health.HeartbeatSeconds > 0 {
		hb = time.Duration(s.Health.HeartbeatSeconds) * time.Second
	}
	return s.LastSeen.Add(hb * time.Duration(f.cfg.StaleHeartbeats))
}

// Stale reports whether a host is stale at now.
func (f *Fleet) Stale(s *State, now time.Time) bool { return !now.Before(f.StaleAt(s)) }

// CaughtUp reports whether the state has caught up with the stream: until
// then a host not yet seen looks like a host that needs nothing.
func (f *Fleet) CaughtUp() bool { return f.caughtUp.Load() }

// MarkCaughtUp says the state is complete without the stream (an
// orchestrator run without NATS, tests).
func (f *Fleet) MarkCaughtUp() { f.caughtUp.Store(true) }
