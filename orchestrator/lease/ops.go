package lease

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
)

// acquire takes the lease when it is free (or still held under this
// replica's own id by an earlier run) and returns the wait until the next try.
func (l *Lease) acquire(ctx context.Context) time.Duration {
	if err := l.refreshTTL(ctx); err != nil {
		l.log.Warn("cannot read the lease bucket", "err", err)
		return l.pollWait()
	}
	e, err := l.kv.Get(ctx, Key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
		return l.take(ctx, 0)
	case err != nil:
		l.log.Warn("cannot read the lease", "err", err)
		return l.pollWait()
	}
	var v LeaderInfo
	_ = json.Unmarshal(e.Value(), &v)
	l.mu.Lock()
	l.holder, l.holderAt = v, time.Now()
	l.mu.Unlock()
	if v.ID != l.id {
		return l.pollWait()
	}
	// Our own id: a run of this replica that ended without handing the
	// lease back (a crash), or a write of ours whose answer was lost.
	return l.take(ctx, e.Revision())
}

// take writes a new term at revision rev (0: create).
func (l *Lease) take(ctx context.Context, rev uint64) time.Duration {
	now, sent := l.now(), time.Now()
	l.mu.Lock()
	eff := l.eff
	l.mu.Unlock()
	v := LeaderInfo{ID: l.id, Since: now.UTC(), Renewed: now.UTC(), Deadline: now.Add(eff).UTC()}
	b, err := json.Marshal(v)
	if err != nil {
		return l.pollWait()
	}
	var nrev uint64
	if rev == 0 {
		nrev, err = l.kv.Create(ctx, Key, b)
	} else {
		nrev, err = l.kv.Update(ctx, Key, b, rev)
	}
	if err != nil {
		if !lostRace(err) {
			l.log.Warn("cannot take the lease", "err", err)
		}
		return l.pollWait()
	}
	l.mu.Lock()
	l.rev, l.since, l.renewedAt, l.holder, l.holderAt = nrev, now, sent, v, time.Now()
	l.deadline = now.Add(eff - l.marginLocked())
	l.mu.Unlock()
	l.log.Info("lease taken: leading", "id", l.id, "ttl", eff, "revision", nrev)
	return eff / 3
}

// renew extends the held lease at its revision.
func (l *Lease) renew(ctx context.Context) time.Duration {
	l.mu.Lock()
	rev, since, eff := l.rev, l.since, l.eff
	l.mu.Unlock()
	now, sent := l.now(), time.Now()
	v := LeaderInfo{ID: l.id, Since: since.UTC(), Renewed: now.UTC(), Deadline: now.Add(eff).UTC()}
	b, _ := json.Marshal(v)
	nrev, err := l.kv.Update(ctx, Key, b, rev)
	switch {
	case err == nil:
		l.mu.Lock()
		l.rev, l.renewedAt, l.holder, l.holderAt = nrev, sent, v, time.Now()
		l.deadline = now.Add(eff - l.marginLocked())
		l.mu.Unlock()
		return eff / 3
	case lostRace(err):
		if r, ok := l.ownRevision(ctx, since); ok {
			// An earlier renew went through but its answer was lost.
			l.mu.Lock()
			l.rev = r
			l.mu.Unlock()
			return l.retryWait()
		}
		l.mu.Lock()
		l.rev = 0
		l.mu.Unlock()
		l.log.Warn("lease lost: another replica holds it, or it expired", "id", l.id)
		return l.pollWait()
	default:
		l.log.Warn("cannot renew the lease; retrying", "err", err)
		return l.retryWait()
	}
}

// ownRevision reads the key and reports its revision when it is still this
// replica's term.
func (l *Lease) ownRevision(ctx context.Context, since time.Time) (uint64, bool) {
	e, err := l.kv.Get(ctx, Key)
	if err != nil {
		return 0, false
	}
	var v LeaderInfo
	if json.Unmarshal(e.Value(), &v) != nil || v.ID != l.id || !v.Since.Equal(since) {
		return 0, false
	}
	return e.Revision(), true
}

// Release hands the lease back at once: a Delete at the held revision, so
// nothing is deleted if another replica took it meanwhile. Run calls it when
// its ctx ends; call it yourself only when not using Run.
func (l *Lease) Release(ctx context.Context) error {
	l.op.Lock()
	defer l.op.Unlock()
	defer l.report()
	l.mu.Lock()
	rev, since := l.rev, l.since
	l.rev = 0
	l.mu.Unlock()
	if rev == 0 {
		return nil
	}
	err := l.kv.Delete(ctx, Key, jetstream.LastRevision(rev))
	if lostRace(err) {
		// A renew cut short by the shutdown may have gone through without
		// its answer: the key is still this term's, at a later revision.
		if r, ok := l.ownRevision(ctx, since); ok {
			err = l.kv.Delete(ctx, Key, jetstream.LastRevision(r))
		}
	}
	if err != nil {
		l.log.Warn("cannot hand the lease back; it expires with its TTL", "err", err)
		return fmt.Errorf("hand back the lease: %w", err)
	}
	l.log.Info("lease handed back", "id", l.id)
	return nil
}

// refreshTTL reads the bucket's TTL: the server expires the key on it, so
// the lease never counts on a longer one.
func (l *Lease) refreshTTL(ctx context.Context) error {
	st, err := l.kv.Status(ctx)
	if err != nil {
		return fmt.Errorf("KV bucket %s: %w", events.BucketLeader, err)
	}
	bt := st.TTL()
	if bt <= 0 {
		return fmt.Errorf("%w: KV bucket %s has none", ErrNoTTL, events.BucketLeader)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	eff := bt
	if l.ttl > 0 && l.ttl < bt {
		eff = l.ttl
	}
	if eff != l.eff && l.ttl > bt {
		l.log.Warn("lease bucket TTL is shorter than configured; using it", "bucket_ttl", bt, "configured", l.ttl)
	}
	l.eff = eff
	return nil
}

// marginLocked is how long before the TTL the holder stops acting.
func (l *Lease) marginLocked() time.Duration {
	if l.margin > 0 && l.margin < l.eff {
		return l.margin
	}
	return l.eff / 4
}

// pollWait is the pause between attempts to take the lease.
func (l *Lease) pollWait() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.eff <= 0 {
		return time.Second
	}
	return l.eff / 3
}

// report tells the watchers when IsLeader changed.
func (l *Lease) report() {
	l.mu.Lock()
	leading := l.leadingLocked()
	if leading == l.notified {
		l.mu.Unlock()
		return
	}
	l.notified = leading
	fns := append([]func(bool){}, l.notify...)
	l.mu.Unlock()
	if !leading {
		l.log.Warn("not leading: stopped acting", "id", l.id)
	}
	for _, fn := range fns {
		fn(leading)
	}
}

// lostRace reports a KV write refused because the key moved on.
func lostRace(err error) bool {
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)
}
