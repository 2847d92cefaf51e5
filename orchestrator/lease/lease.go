package lease

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
)

// Key is the key of the leader lease in KV bucket events.BucketLeader.
const Key = "leader"

// DefaultTTL is the lease TTL a replica is configured with unless told
// otherwise (the bucket's TTL wins when shorter).
const DefaultTTL = 15 * time.Second

// LeaderInfo is the lease's value: who holds it, since when, and when the
// key expires unless renewed (wall clock, for people and other replicas; the
// holder itself decides on its own monotonic deadline).
type LeaderInfo struct {
	ID       string    `json:"id"`
	Since    time.Time `json:"since"`
	Renewed  time.Time `json:"renewed"`
	Deadline time.Time `json:"deadline"`
}

// Lease is the orchestrators' leader election (docs/reliability.md): one key in a KV
// bucket whose TTL (the bucket's max age) expires a holder that stopped
// renewing. It is taken with Create, kept with Update at the held revision
// every TTL/3, and handed back with a Delete at that revision. The holder
// stops acting on its own local deadline — the start of its last successful
// renew + TTL − margin — so it has stopped before the key can expire on the
// server and another replica can take it.
type Lease struct {
	kv     jetstream.KeyValue
	id     string
	ttl    time.Duration // configured; the bucket's TTL wins when shorter
	margin time.Duration // 0: TTL/4
	log    *slog.Logger
	now    func() time.Time
	reqTO  time.Duration

	mu        sync.Mutex
	eff       time.Duration // effective TTL
	rev       uint64        // held revision; 0 when not held
	since     time.Time
	deadline  time.Time // local, on l.now: act only before it
	renewedAt time.Time // real time of the last renew sent (cadence)
	holder    LeaderInfo
	holderAt  time.Time // real time holder was read
	notified  bool      // the state last reported to watchers
	notify    []func(leader bool)
	running   atomic.Bool
	op        sync.Mutex // one Step or Release at a time
}

// New makes a lease on kv (the events.BucketLeader bucket, which must
// have a TTL) for the replica named id. ttl is the lease TTL the replica
// was configured with (0: the bucket's).
func New(kv jetstream.KeyValue, id string, ttl time.Duration, opts ...Option) (*Lease, error) {
	if kv == nil {
		return nil, fmt.Errorf("%w: nil lease bucket", ErrInvalidOption)
	}
	if !events.ValidToken(id) {
		return nil, fmt.Errorf("%w: lease id %q: use letters, digits, '-' or '_'", ErrInvalidOption, id)
	}
	if ttl < 0 {
		return nil, fmt.Errorf("%w: negative lease TTL", ErrInvalidOption)
	}
	l := &Lease{kv: kv, id: id, ttl: ttl, eff: ttl, log: slog.New(slog.DiscardHandler), now: time.Now, reqTO: 5 * time.Second}
	for _, opt := range opts {
		if err := opt(l); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// ID is this replica's name in the lease.
func (l *Lease) ID() string { return l.id }

// IsLeader reports whether this replica holds the lease and its local
// deadline has not passed. It is what the orchestrator's WithLease acts on.
func (l *Lease) IsLeader() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.leadingLocked()
}

func (l *Lease) leadingLocked() bool { return l.rev != 0 && l.now().Before(l.deadline) }

// Leader returns the holder as last read (this replica's own term when it
// leads); ok is false when no live holder is known.
func (l *Lease) Leader() (LeaderInfo, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.leadingLocked() {
		return LeaderInfo{ID: l.id, Since: l.since, Renewed: l.holder.Renewed, Deadline: l.holder.Deadline}, true
	}
	h := l.holder
	if h.ID == "" || (h.ID == l.id && l.rev == 0) {
		return LeaderInfo{}, false
	}
	// The value's deadline is on the holder's wall clock; it is only trusted
	// as long as it was read at most one TTL ago.
	if l.eff > 0 && time.Since(l.holderAt) > l.eff {
		return LeaderInfo{}, false
	}
	return h, true
}

// OnChange registers fn, called after every change of IsLeader as seen by
// the lease's own loop. Register before Run.
func (l *Lease) OnChange(fn func(leader bool)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.notify = append(l.notify, fn)
}

// Run campaigns for the lease and renews it while held, until ctx ends; then
// it hands the lease back at once (a Delete at the held revision), so another
// replica need not wait for the TTL. It returns nil when ctx ends.
func (l *Lease) Run(ctx context.Context) error {
	if !l.running.CompareAndSwap(false, true) {
		return errors.New("lease already running")
	}
	defer l.running.Store(false)
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.reqTO)
		defer cancel()
		_ = l.Release(rctx)
	}()
	updates := l.watch(ctx)
	next := time.Now()
	for {
		if !time.Now().Before(next) {
			next = time.Now().Add(l.Step(ctx))
		}
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		case e, ok := <-updates:
			t.Stop()
			switch {
			case !ok:
				updates = nil // the watch ended: polling alone still works
			case l.seen(e):
				next = time.Now() // handed back: try at once
			}
		}
	}
}

// watch follows the lease key, so a follower tries at once when the leader
// hands the lease back. nil when the watch cannot start (polling remains).
func (l *Lease) watch(ctx context.Context) <-chan jetstream.KeyValueEntry {
	w, err := l.kv.Watch(ctx, Key, jetstream.UpdatesOnly())
	if err != nil {
		l.log.Warn("cannot watch the lease; polling only", "err", err)
		return nil
	}
	go func() {
		<-ctx.Done()
		_ = w.Stop()
	}()
	return w.Updates()
}

// seen records a holder read from the watch; it reports whether the key was
// deleted (handed back), so a follower should try at once.
func (l *Lease) seen(e jetstream.KeyValueEntry) bool {
	if e == nil {
		return false
	}
	if e.Operation() != jetstream.KeyValuePut {
		return true
	}
	var v LeaderInfo
	if json.Unmarshal(e.Value(), &v) == nil {
		l.mu.Lock()
		l.holder, l.holderAt = v, time.Now()
		l.mu.Unlock()
	}
	return false
}

// Step makes one attempt — renew when held and due, else take the lease if
// it is free — and returns how long until the next one. Run calls it; a
// caller may call it once before Run to learn at start whether it leads.
func (l *Lease) Step(ctx context.Context) time.Duration {
	l.op.Lock()
	defer l.op.Unlock()
	ctx, cancel := context.WithTimeout(ctx, l.requestTimeout())
	defer cancel()
	l.mu.Lock()
	held, due := l.rev != 0, time.Since(l.renewedAt) >= l.eff/3
	l.mu.Unlock()
	var next time.Duration
	switch {
	case held && !due:
		l.mu.Lock()
		next = l.eff/3 - time.Since(l.renewedAt)
		l.mu.Unlock()
	case held:
		next = l.renew(ctx)
	default:
		next = l.acquire(ctx)
	}
	l.report()
	return max(next, time.Millisecond)
}

// retryWait is the pause after a failed request while the lease is held.
func (l *Lease) retryWait() time.Duration { return max(l.eff/10, 50*time.Millisecond) }

// requestTimeout bounds one KV request: a renew answered after a third of the
// TTL is of no use.
func (l *Lease) requestTimeout() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.eff / 3; e > 0 && e < l.reqTO {
		return max(e, 100*time.Millisecond)
	}
	return l.reqTO
}
