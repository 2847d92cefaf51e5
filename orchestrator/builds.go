package orchestrator

import (
	"context"
	"errors"
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
	CancelBuild(ctx context.Context, number int) error
}

// buildWant is a build the fleet needs: one per image (registry mode) or per
// image and host (host mode).
type buildWant struct {
	key, image, release, host, registryRef, bun, bootstrap string
}

// buildManager owns build records: the in-memory cache of KV bucket
// vmfleet_builds, and every Buildkite call. At most one operation per key
// runs at a time (busy), and every record change is a compare-and-set in the
// store, so neither two goroutines nor two orchestrators create twice.
type buildManager struct {
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
	bk    Buildkite // nil: builds disabled
	store recordStore
	// onChange is called after a record changed state (events, wake-ups).
	onChange func(prev, next *Record)

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

	wg sync.WaitGroup
}

func newBuildManager(cfg Config, log *slog.Logger, now func() time.Time, bk Buildkite, store recordStore) *buildManager {
	return &buildManager{
		cfg: cfg, log: log, now: now, bk: bk, store: store,
		onChange:    func(_, _ *Record) {},
		recs:        map[string]*Record{},
		busy:        map[string]bool{},
		lastPoll:    map[string]time.Time{},
		livePerHost: map[string]int{},
		reservedPer: map[string]int{},
	}
}

// load fills the cache from the store (at start).
func (m *buildManager) load(ctx context.Context) error {
	recs, err := m.store.list(ctx)
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
func (m *buildManager) setLocked(r *Record) bool {
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

// record returns a copy of the cached record, or nil.
func (m *buildManager) record(key string) *Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r := m.recs[key]; r != nil {
		return r.clone()
	}
	return nil
}

// records returns copies of every cached record, sorted by key.
func (m *buildManager) records() []Record {
	m.mu.Lock()
	out := make([]Record, 0, len(m.recs))
	for _, r := range m.recs {
		out = append(out, *r)
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b Record) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// pushed reports whether the registry build for w passed with the current
// parameters, so hosts may pull the image.
func (m *buildManager) pushed(w buildWant) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.recs[w.key]
	return r != nil && r.State == events.BuildPassed && r.Digest == digest(w)
}

// ensure starts whatever each wanted key needs next: a create, a check of a
// create in doubt, a retry after backoff, or blocking. It never waits for
// Buildkite or the store: operations run on their own goroutines, at most one
// per key.
func (m *buildManager) ensure(ctx context.Context, wants []buildWant) {
	if m.bk == nil || len(wants) == 0 {
		return
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range wants {
		w := &wants[i]
		if m.busy[w.key] {
			continue
		}
		if op := m.decideLocked(w, now); op != nil {
			m.startLocked(ctx, w.key, op)
		}
	}
}

type buildOp func(ctx context.Context)

func (m *buildManager) startLocked(ctx context.Context, key string, op buildOp) {
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
func (m *buildManager) decideLocked(w *buildWant, now time.Time) buildOp {
	r := m.recs[w.key]
	gated := now.Before(m.gate)
	key := w.key
	switch {
	case r == nil || (r.Digest != digest(*w) && !r.State.Live()):
		if gated || !m.capLocked(w.host) {
			return nil
		}
		return m.reserveLocked(w, 1, r)
	case r.State == events.BuildRequested && r.Number == 0:
		if gated || now.Before(r.CheckAfter) {
			return nil
		}
		want, rec := *w, r.clone()
		return func(ctx context.Context) { m.resolve(ctx, rec, &want) }
	case r.State == events.BuildPassed && w.host != "" && !now.Before(r.FinishedAt.Add(m.cfg.PassedGrace)):
		return func(ctx context.Context) { m.passedButMissing(ctx, key) }
	case r.State == events.BuildFailed || r.State == events.BuildCanceled:
		if r.Attempt >= m.cfg.MaxAttempts {
			return func(ctx context.Context) { m.block(ctx, key) }
		}
		if gated || now.Before(r.NextAttempt) || !m.capLocked(w.host) {
			return nil
		}
		return m.reserveLocked(w, r.Attempt+1, r)
	}
	return nil
}

// capLocked reports whether one more live build fits the caps.
func (m *buildManager) capLocked(host string) bool {
	if m.live+m.reserved >= m.cfg.MaxBuilds {
		return false
	}
	return host == "" || m.livePerHost[host]+m.reservedPer[host] < m.cfg.MaxBuildsPerHost
}

// reserveLocked counts a create against the caps until its record is written.
func (m *buildManager) reserveLocked(w *buildWant, attempt int, prev *Record) buildOp {
	want := *w
	var p *Record
	if prev != nil {
		p = prev.clone()
	}
	m.reserved++
	m.reservedPer[w.host]++
	return func(ctx context.Context) {
		m.create(ctx, want, attempt, p, func() {
			m.mu.Lock()
			m.reserved--
			m.reservedPer[want.host]--
			m.mu.Unlock()
		})
	}
}

// sweep polls live builds whose poll is due (the webhook fallback) and checks
// requested records nobody wants any more. Called on full passes.
func (m *buildManager) sweep(ctx context.Context, wanted map[string]bool) {
	if m.bk == nil {
		return
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
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

// counts returns records by state and the blocked keys.
func (m *buildManager) counts() (map[events.BuildState]int, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	by := map[events.BuildState]int{}
	for _, r := range m.recs {
		by[r.State]++
	}
	return by, by[events.BuildBlocked]
}

// setGate holds every Buildkite call until t (a 429's RateLimit-Reset).
func (m *buildManager) setGate(t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t.After(m.gate) {
		m.gate = t
		m.log.Warn("Buildkite rate limit: holding every call", "until", t)
	}
}

// wait blocks until every running operation has returned.
func (m *buildManager) wait() { m.wg.Wait() }

var errNoChange = errors.New("no change")
