package builds

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/buildkite"
)

// Buildkite is everything the build manager asks of Buildkite;
// *buildkite.Client implements it, tests may pass a fake.
type Buildkite interface {
	CreateBuild(ctx context.Context, req buildkite.BuildRequest) (buildkite.BuildInfo, error)
	// ListBuilds lists the builds whose meta-data vmfleet-key is key, newest first.
	ListBuilds(ctx context.Context, key string) ([]buildkite.BuildInfo, error)
	GetBuild(ctx context.Context, number int) (buildkite.BuildInfo, error)
	// CancelBuild cancels a build and returns it as Buildkite answers
	// (canceled, or canceling while its jobs stop).
	CancelBuild(ctx context.Context, number int) (buildkite.BuildInfo, error)
}

// Want is a build the fleet needs: one per image (registry mode) or per
// image and host (host mode).
type Want struct {
	// Key is the record key: RecordKey(Image, Host).
	Key, Image, Release string
	// Host is set in host mode: the build is pinned to it.
	Host string
	// RegistryRef is set in registry mode: where the build pushes the image.
	RegistryRef, Bun, Bootstrap string
}

// Manager owns build records: the in-memory cache of KV bucket
// vmfleet_builds, and every Buildkite call. At most one operation per key
// runs at a time (busy), and every record change is a compare-and-set in the
// store, so neither two goroutines nor two orchestrators create twice.
type Manager struct {
	cfg Config
	log *slog.Logger
	// gauges are set by UpdateGauges once RegisterGauges made them.
	gauges *gauges
	now    func() time.Time
	bk     Buildkite // nil: builds disabled
	store  Store
	// onChange is called after a record changed state (events, wake-ups).
	onChange func(prev, next *Record)
	// onCancel is called after Buildkite accepted a cancel (metrics).
	onCancel func(r *Record)

	mu          sync.Mutex
	recs        map[string]*Record
	busy        map[string]bool
	lastPoll    map[string]time.Time
	polls       pollBudget
	gate        time.Time // no Buildkite call before (RateLimit-Reset)
	live        int
	livePerHost map[string]int
	reserved    int // creates started but not yet written
	reservedPer map[string]int
	// queued are the wanted keys a cap or the rate limit holds back
	// (queue.go).
	queued map[string]*queuedBuild

	wg sync.WaitGroup
}

// New makes a build manager. Zero fields of cfg take DefaultConfig's; bk
// nil disables builds; store may be set later with SetStore, before Load.
func New(cfg Config, log *slog.Logger, now func() time.Time, bk Buildkite, store Store) *Manager {
	return &Manager{
		cfg: cfg.WithDefaults(), log: log, now: now, bk: bk, store: store,
		onChange:    func(_, _ *Record) {},
		onCancel:    func(*Record) {},
		recs:        map[string]*Record{},
		busy:        map[string]bool{},
		lastPoll:    map[string]time.Time{},
		livePerHost: map[string]int{},
		reservedPer: map[string]int{},
		queued:      map[string]*queuedBuild{},
	}
}

// OnChange sets fn, called after a record changed state (events,
// wake-ups). Set it before any operation starts.
func (m *Manager) OnChange(fn func(prev, next *Record)) { m.onChange = fn }

// Store is where the records are kept; nil until set.
func (m *Manager) Store() Store { return m.store }

// SetStore sets where the records are kept. Call it before Load.
func (m *Manager) SetStore(s Store) { m.store = s }

// Load fills the cache from the store (at start).
func (m *Manager) Load(ctx context.Context) error {
	recs, err := m.store.List(ctx)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range recs {
		m.setLocked(r)
	}
	return nil
}

// setLocked caches r unless the cache holds a newer revision, keeping the
// live counters. Caller holds m.mu.
func (m *Manager) setLocked(r *Record) bool {
	old := m.recs[r.Key]
	if old != nil && old.Revision >= r.Revision && r.Revision != 0 {
		return false
	}
	if old != nil && old.State.Live() {
		m.live--
		if old.Host != "" {
			m.livePerHost[old.Host]--
		}
	}
	if r.State.Live() {
		m.live++
		if r.Host != "" {
			m.livePerHost[r.Host]++
		}
	}
	m.recs[r.Key] = r
	return true
}

// Record returns a copy of the cached record, or nil.
func (m *Manager) Record(key string) *Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r := m.recs[key]; r != nil {
		return r.clone()
	}
	return nil
}

// Records returns copies of every cached record, sorted by key.
func (m *Manager) Records() []Record {
	m.mu.Lock()
	out := make([]Record, 0, len(m.recs))
	for _, r := range m.recs {
		out = append(out, *r)
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b Record) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// Pushed reports whether the registry build for w passed with the current
// parameters, so hosts may pull the image.
func (m *Manager) Pushed(w Want) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.recs[w.Key]
	return r != nil && r.State == events.BuildPassed && r.Digest == digest(w)
}

// Ensure starts whatever each wanted key needs next: a create, a check of a
// create in doubt, a retry after backoff, or blocking. It never waits for
// Buildkite or the store: operations run on their own goroutines, at most one
// per key.
func (m *Manager) Ensure(ctx context.Context, wants []Want) {
	if m.bk == nil || len(wants) == 0 {
		return
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range wants {
		w := &wants[i]
		if m.busy[w.Key] {
			continue
		}
		if op := m.decideLocked(w, now); op != nil {
			m.startLocked(ctx, w.Key, op)
		}
	}
}

type buildOp func(ctx context.Context)

func (m *Manager) startLocked(ctx context.Context, key string, op buildOp) {
	m.busy[key] = true
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer func() {
			m.mu.Lock()
			delete(m.busy, key)
			m.mu.Unlock()
		}()
		op(ctx)
	}()
}

// decideLocked is the per-key state machine. Caller holds m.mu.
// Operations get copies: w points into the pass's scratch, reused by the
// next pass while they run.
func (m *Manager) decideLocked(w *Want, now time.Time) buildOp {
	r := m.recs[w.Key]
	gated := now.Before(m.gate)
	key := w.Key
	switch {
	case r == nil || (r.Digest != digest(*w) && !r.State.Live()):
		if gated || !m.capLocked(w.Host) {
			m.queueLocked(w, now, gated)
			return nil
		}
		return m.reserveLocked(w, 1, r)
	case r.State == events.BuildRequested && r.Number == 0:
		if gated || now.Before(r.CheckAfter) {
			return nil
		}
		want, rec := *w, r.clone()
		return func(ctx context.Context) { m.resolve(ctx, rec, &want) }
	case r.State == events.BuildPassed && w.Host != "" && !now.Before(r.FinishedAt.Add(m.cfg.PassedGrace)):
		return func(ctx context.Context) { m.passedButMissing(ctx, key) }
	case r.State == events.BuildFailed || r.State == events.BuildCanceled:
		// Attempts vmfleet cancelled itself (Record.Cancels) are no failures:
		// they neither block the key nor back off (NextAttempt is their end).
		if r.Failures() >= m.cfg.MaxAttempts {
			return func(ctx context.Context) { m.block(ctx, key) }
		}
		if gated || now.Before(r.NextAttempt) || !m.capLocked(w.Host) {
			if !now.Before(r.NextAttempt) {
				m.queueLocked(w, now, gated)
			}
			return nil
		}
		return m.reserveLocked(w, r.Attempt+1, r)
	}
	return nil
}

// capLocked reports whether one more live build fits the caps.
func (m *Manager) capLocked(host string) bool {
	if m.live+m.reserved >= m.cfg.MaxBuilds {
		return false
	}
	return host == "" || m.livePerHost[host]+m.reservedPer[host] < m.cfg.MaxBuildsPerHost
}

// reserveLocked counts a create against the caps until its record is written.
func (m *Manager) reserveLocked(w *Want, attempt int, prev *Record) buildOp {
	want := *w
	delete(m.queued, w.Key)
	var p *Record
	if prev != nil {
		p = prev.clone()
	}
	m.reserved++
	m.reservedPer[w.Host]++
	return func(ctx context.Context) {
		m.create(ctx, want, attempt, p, func() {
			m.mu.Lock()
			m.reserved--
			m.reservedPer[want.Host]--
			m.mu.Unlock()
		})
	}
}

// Sweep polls live builds whose poll is due (the webhook fallback) and checks
// requested records nobody wants any more. Called on full passes.
func (m *Manager) Sweep(ctx context.Context, wanted map[string]bool) {
	if m.bk == nil {
		return
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for key := range m.queued {
		if !wanted[key] {
			delete(m.queued, key)
		}
	}
	if now.Before(m.gate) {
		return
	}
	var due []pollDue
	for key, r := range m.recs {
		if m.busy[key] || !r.State.Live() {
			continue
		}
		switch {
		case r.Number != 0 && !now.Before(m.lastPoll[key].Add(m.cfg.PollInterval)):
			due = append(due, pollDue{key: key, number: r.Number, last: m.lastPoll[key]})
		case r.Number == 0 && !wanted[key] && !now.Before(r.CheckAfter):
			rec := r.clone()
			m.startLocked(ctx, key, func(ctx context.Context) { m.resolve(ctx, rec, nil) })
		}
	}
	// The least recently polled first, within the budget; the rest wait
	// for the next pass.
	slices.SortFunc(due, func(a, b pollDue) int {
		if c := a.last.Compare(b.last); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	n := m.polls.take(now, m.cfg.MaxPollsPerMinute, len(due))
	for _, d := range due[:n] {
		m.lastPoll[d.key] = now
		m.startLocked(ctx, d.key, func(ctx context.Context) { m.poll(ctx, d.key, d.number) })
	}
}

// pollDue is a live build whose poll is due.
type pollDue struct {
	key    string
	number int
	last   time.Time
}

// pollBudget spreads the webhook fallback's polls over time, perMinute at
// most, so that many live builds do not spend Buildkite's rate limit (200
// REST requests a minute for a whole organization) on polls: a token bucket
// holding at most a minute's worth.
type pollBudget struct {
	tokens float64
	at     time.Time
}

// take returns how many of want polls may go now and spends them.
func (b *pollBudget) take(now time.Time, perMinute, want int) int {
	switch {
	case b.at.IsZero():
		b.tokens = float64(perMinute)
	case now.After(b.at):
		b.tokens = min(float64(perMinute), b.tokens+now.Sub(b.at).Minutes()*float64(perMinute))
	}
	if now.After(b.at) {
		b.at = now
	}
	n := min(want, int(b.tokens))
	b.tokens -= float64(n)
	return n
}

// Counts returns records by state and the blocked keys.
func (m *Manager) Counts() (map[events.BuildState]int, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	by := map[events.BuildState]int{}
	for _, r := range m.recs {
		by[r.State]++
	}
	return by, by[events.BuildBlocked]
}

// setGate holds every Buildkite call until t (a 429's RateLimit-Reset).
func (m *Manager) setGate(t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t.After(m.gate) {
		m.gate = t
		m.log.Warn("Buildkite rate limit: holding every call", "until", t)
	}
}

// AdoptAll readies every live record for adoption by a new leader and
// returns how many there are: polls are due at once, a create not yet
// answered waits DoubtDelay, and a cancel the last leader may have had in
// flight may be asked again (held in memory; the record is unchanged).
func (m *Manager) AdoptAll() int {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for key, r := range m.recs {
		if !r.State.Live() {
			continue
		}
		n++
		delete(m.lastPoll, key)
		if r.State == events.BuildRequested && r.Number == 0 && r.CheckAfter.Before(now.Add(m.cfg.DoubtDelay)) {
			c := r.clone()
			c.CheckAfter = now.Add(m.cfg.DoubtDelay)
			m.recs[key], r = c, c
		}
		if r.Cancel == ReasonObsolete && r.NextCancel.IsZero() {
			c := r.clone()
			c.NextCancel = now
			m.recs[key] = c
		}
	}
	return n
}

// Preload caches records as if read from the store and polled at polled,
// so a benchmark or test starts from a known state without a first round of
// polls. The records must already be in the store at their revisions.
func (m *Manager) Preload(recs []*Record, polled time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range recs {
		m.setLocked(r.clone())
		m.lastPoll[r.Key] = polled
	}
}

// Wait blocks until every running operation has returned.
func (m *Manager) Wait() { m.wg.Wait() }
