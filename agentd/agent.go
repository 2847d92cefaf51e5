package agentd

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
)

// The agent's needs from tart, declared here so a fake implements only these.
// *tart.Client and *tarttest.Fake satisfy them all.
type (
	vmLister interface {
		List(ctx context.Context) ([]events.VM, error)
	}
	versioner interface {
		Version(ctx context.Context) (string, error)
	}
	renamer interface {
		Rename(ctx context.Context, from, to string) error
	}
	cloner interface {
		Clone(ctx context.Context, src, dst string) error
	}
	deleter interface {
		Delete(ctx context.Context, name string) error
	}
)

// Tart is everything the agent asks of tart.
type Tart interface {
	vmLister
	versioner
	renamer
	cloner
	deleter
}

// Agent is one host's agent. Its methods are safe for concurrent use; checks
// run one at a time.
type Agent struct {
	cfg     Config
	host    string
	tart    Tart
	log     *slog.Logger
	nc      *nats.Conn
	subj    events.Subjects
	now     func() time.Time
	tags    TagApplier
	metrics *metrics
	bootID  string
	store   stateStore
	source  string
	// disk measures the filesystem holding $TART_HOME (diskUsage; tests
	// replace it).
	disk func(path string) *events.Disk

	settle    time.Duration
	specRetry time.Duration
	noWatch   bool // WithoutFileWatch

	checkMu  sync.Mutex           // one check (and its publish) at a time
	turn     chan struct{}        // capacity 1: this agent's holder of the host lock (lockHost)
	specHist bus.SpecHistoryCache // the spec keys' history, for prunes' removal grace
	specKVMu sync.Mutex
	specKV   jetstream.KeyValue // bucket vmfleet_spec's handle (specBucket)

	mu       sync.Mutex // guards the fields below
	spec     events.ImageSpec
	specRev  uint64
	fullSpec *events.Spec // the KV spec with its cleanup policy, nil when local
	next     *events.Spec // the staged spec (KV key next), nil when no rollout
	nextRev  uint64
	// pollRejected and pollRejectedNext are the last invalid revision a read
	// found of the current and the staged spec (said once).
	pollRejected, pollRejectedNext atomic.Uint64
	// specCheck, when set (tests), is how often a read checks the spec watch
	// is not behind (default five heartbeats).
	specCheck time.Duration
	// specWatch, when set (tests, WithSpecWatch), replaces the bucket's Watch.
	specWatch   func(jetstream.KeyValue) func(context.Context, []string, ...jetstream.WatchOpt) (jetstream.KeyWatcher, error)
	seq         uint64
	last        *events.HostHealth
	lastPub     *events.HostHealth // last health published
	lastPubAt   time.Time          // last publish attempt, real time (timers)
	tartVersion string
	appliedTags []string

	wake        chan struct{} // capacity 1: a burst of triggers is one check
	republishCh chan struct{} // capacity 1: reconnects
}

// New returns an agent for the host described by cfg, using t for tart.
func New(cfg Config, t Tart, opts ...Option) (*Agent, error) {
	if t == nil {
		return nil, fmt.Errorf("%w: nil tart", ErrInvalidOption)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	host, _ := events.HostToken(cfg.Hostname)
	subj, _ := events.NewSubjects(cfg.SubjectPrefix)
	a := &Agent{
		cfg: cfg, host: host, tart: t, subj: subj,
		log: slog.New(slog.DiscardHandler), now: time.Now,
		bootID: events.NewID(), store: stateStore{dir: cfg.StateDir},
		source: "/vmfleet/agent/" + host, spec: cfg.Images, disk: diskUsage,
		settle: 150 * time.Millisecond, specRetry: 10 * time.Second,
		wake: make(chan struct{}, 1), republishCh: make(chan struct{}, 1), turn: make(chan struct{}, 1),
	}
	for _, o := range opts {
		if err := o(a); err != nil {
			return nil, err
		}
	}
	a.log = a.log.With("host", host)
	return a, nil
}

// Host is the host token used in subjects and events.
func (a *Agent) Host() string { return a.host }

// Config is the agent's configuration with defaults filled.
func (a *Agent) Config() Config { return a.cfg }

// Spec is the image spec checked against and its KV revision (0: local config).
func (a *Agent) Spec() (events.ImageSpec, uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.spec, a.specRev
}

// Next is the staged spec (KV key next) and its revision; nil, 0 when no
// rollout is in progress.
func (a *Agent) Next() (*events.ImageSpec, uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.next == nil {
		return nil, 0
	}
	images := a.next.Images
	return &images, a.nextRev
}

// Latest is the result of the agent's last check, if any.
func (a *Agent) Latest() (events.HostHealth, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.last == nil {
		return events.HostHealth{}, false
	}
	return *a.last, true
}

// Previous is the last check recorded in the state dir by any agent process
// on this host (nil if none).
func (a *Agent) Previous() (*events.HostHealth, error) { return a.store.loadLast() }

// Check asks tart for the inventory (exactly one `tart list`, plus `tart
// --version` on the first check and after a tart failure) and evaluates every
// release. A tart failure is reported in the result (reason tart_error, cause
// in TartError), not as an error; the error is the context's, if it ended.
func (a *Agent) Check(ctx context.Context) (events.HostHealth, error) {
	a.checkMu.Lock()
	defer a.checkMu.Unlock()
	return a.check(ctx)
}

func (a *Agent) check(ctx context.Context) (events.HostHealth, error) {
	start := time.Now()
	lctx, cancel := context.WithTimeout(ctx, a.cfg.TartTimeout)
	vms, listErr := a.tart.List(lctx)
	cancel()
	if err := ctx.Err(); err != nil {
		return events.HostHealth{}, err
	}
	now := a.now()
	forced := a.forcedNow(now)
	spec, rev := a.Spec()
	if vms == nil || listErr != nil {
		vms = []events.VM{}
	}
	h := events.HostHealth{
		Host: a.host, Hostname: a.cfg.Hostname, Agent: a.cfg.AgentName, BootID: a.bootID,
		CheckedAt: now.UTC(), HeartbeatSeconds: int(a.cfg.Heartbeat.Round(time.Second) / time.Second),
		TartVersion: a.version(ctx, listErr), VMs: vms, Disk: a.disk(a.cfg.TartHome),
		Forced: forced, SpecRevision: rev,
	}
	h.Releases = evaluate(spec, vms, listErr, forced, now)
	h.Ready = allReady(h.Releases)
	if next, nextRev := a.Next(); next != nil {
		h.Staged = evaluateStaged(spec, *next, vms, listErr, h.Disk, a.reserve())
		h.NextRevision = nextRev
	}
	if listErr != nil {
		h.TartError = listErr.Error()
		a.log.Warn("tart list failed", "err", listErr)
	}
	h.BuildkiteTags = a.applyTags(ctx, h)
	a.mu.Lock()
	a.seq++
	h.Seq = a.seq
	a.last = &h
	a.mu.Unlock()
	if err := a.store.saveLast(h); err != nil {
		a.log.Warn("cannot record the last check", "err", err)
	}
	a.metrics.check(time.Since(start).Seconds(), listErr != nil)
	return h, nil
}

// version returns tart's version, asked once and again after tart failed
// (it may have been reinstalled).
func (a *Agent) version(ctx context.Context, listErr error) string {
	a.mu.Lock()
	v := a.tartVersion
	a.mu.Unlock()
	if listErr != nil {
		a.mu.Lock()
		a.tartVersion = ""
		a.mu.Unlock()
		return v
	}
	if v != "" {
		return v
	}
	vctx, cancel := context.WithTimeout(ctx, a.cfg.TartTimeout)
	defer cancel()
	v, err := a.tart.Version(vctx)
	if err != nil {
		a.log.Warn("tart --version failed", "err", err)
		return ""
	}
	a.mu.Lock()
	a.tartVersion = v
	a.mu.Unlock()
	return v
}

func (a *Agent) applyTags(ctx context.Context, h events.HostHealth) []string {
	a.mu.Lock()
	prev := a.appliedTags
	a.mu.Unlock()
	if a.tags == nil {
		return prev
	}
	tags, err := a.tags.Apply(ctx, h)
	if err != nil {
		a.log.Warn("cannot apply Buildkite tags", "err", err)
		return prev
	}
	tags = slices.Clone(tags)
	a.mu.Lock()
	a.appliedTags = tags
	a.mu.Unlock()
	return tags
}
