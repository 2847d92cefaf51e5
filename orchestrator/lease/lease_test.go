package lease_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/internal/bus/bustest"
	"github.com/vmfleet/vmfleet/orchestrator/internal/orchtest"
	"github.com/vmfleet/vmfleet/orchestrator/lease"
)

// leaseWorld is one NATS server with the lease bucket at a short TTL.
type leaseWorld struct {
	t   *testing.T
	ns  *server.Server
	ttl time.Duration
	kv  jetstream.KeyValue // the test's own view of the bucket
}

func newLeaseWorld(t *testing.T, ttl time.Duration) *leaseWorld {
	t.Helper()
	w := &leaseWorld{t: t, ns: bustest.Server(t, ""), ttl: ttl}
	js, err := jetstream.New(bustest.Conn(t, w.ns))
	if err != nil {
		t.Fatal(err)
	}
	b, err := bus.EnsureBuckets(t.Context(), js, 1, ttl)
	if err != nil {
		t.Fatal(err)
	}
	w.kv = b.Leader
	return w
}

// replica is one lease on its own connection, run until stop.
type replica struct {
	l    *lease.Lease
	nc   *nats.Conn
	stop func()
	// changes counts notifications.
	changes atomic.Int32
}

func (w *leaseWorld) replica(id string, opts ...lease.Option) *replica {
	w.t.Helper()
	nc, err := nats.Connect(w.ns.ClientURL(), nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	kv, err := js.KeyValue(w.t.Context(), "vmfleet_leader")
	if err != nil {
		w.t.Fatal(err)
	}
	r := &replica{nc: nc}
	opts = append([]lease.Option{
		lease.WithLogger(testLogger(w.t, slog.LevelInfo).With("lease", id)),
		lease.WithNotify(func(bool) { r.changes.Add(1) }),
	}, opts...)
	if r.l, err = lease.New(kv, id, w.ttl, opts...); err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := r.l.Run(ctx); err != nil {
			w.t.Errorf("lease %s: %v", id, err)
		}
	}()
	var once sync.Once
	r.stop = func() { once.Do(func() { cancel(); <-done }) }
	w.t.Cleanup(r.stop)
	return r
}

// holder reads the lease value as stored.
func (w *leaseWorld) holder() (lease.LeaderInfo, bool) {
	e, err := w.kv.Get(context.Background(), lease.Key)
	if err != nil {
		return lease.LeaderInfo{}, false
	}
	var v lease.LeaderInfo
	return v, json.Unmarshal(e.Value(), &v) == nil
}

func waitUntil(t *testing.T, what string, within time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(start)
}

// overlapWatch samples both replicas until stopped and counts instants at
// which both believed they lead.
func overlapWatch(a, b *lease.Lease) (stop func() int) {
	var n atomic.Int32
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			if a.IsLeader() && b.IsLeader() {
				n.Add(1)
			}
			time.Sleep(200 * time.Microsecond)
		}
	}()
	return func() int { close(done); wg.Wait(); return int(n.Load()) }
}

func TestLeaseOneLeaderAndHandBack(t *testing.T) {
	t.Parallel()
	// A TTL long enough that a machine busy with other tests does not let the
	// lease lapse while the test waits for renewals (each KV call must finish
	// within TTL/3).
	w := newLeaseWorld(t, 3*time.Second)
	a := w.replica("a")
	waitUntil(t, "a leads", 5*time.Second, a.l.IsLeader)
	b := w.replica("b")
	stopWatch := overlapWatch(a.l, b.l)
	// b reads a as the holder and does not lead through several renewals.
	waitUntil(t, "b sees a", 5*time.Second, func() bool { v, ok := b.l.Leader(); return ok && v.ID == "a" })
	// Let the TTL pass more than once: renewals must keep a in place.
	waitUntil(t, "a renewed past 1.5 TTL", 4*w.ttl, func() bool {
		v, ok := w.holder()
		return ok && v.Renewed.Sub(v.Since) > 3*w.ttl/2
	})
	if !a.l.IsLeader() || b.l.IsLeader() {
		t.Fatalf("Got(a, b leading after 1.5 TTL) = %v, %v, want true, false", a.l.IsLeader(), b.l.IsLeader())
	}
	if v, ok := w.holder(); !ok || v.ID != "a" || !v.Deadline.After(v.Renewed) {
		t.Errorf("Got(stored lease) = %+v, %v, want a's with a deadline after its renewal", v, ok)
	}
	// Graceful hand-back: b takes over at once, not after the TTL.
	a.stop()
	if a.l.IsLeader() {
		t.Error("Got(a.IsLeader after stop) = true, want false")
	}
	took := waitUntil(t, "b leads", 2*w.ttl, b.l.IsLeader)
	t.Logf("hand-back: b leads %s after a stopped (TTL %s)", took, w.ttl)
	if took > w.ttl/2 {
		t.Errorf("Got(hand-back takeover) = %s, want well under the TTL %s", took, w.ttl)
	}
	if n := stopWatch(); n != 0 {
		t.Errorf("Got(instants with two leaders) = %d, want 0", n)
	}
	// a: led, stopped (and, on a starved machine, perhaps a lapse and a
	// recovery between); b: led.
	if na, nb := a.changes.Load(), b.changes.Load(); na < 2 || na%2 != 0 || nb%2 != 1 {
		t.Errorf("Got(notifications a, b) = %d, %d, want an even number ≥ 2 (ending stopped), an odd one (ending leading)", na, nb)
	}
}

func TestLeaseFailoverWhenLeaderGoesSilent(t *testing.T) {
	t.Parallel()
	w := newLeaseWorld(t, time.Second)
	a := w.replica("a")
	waitUntil(t, "a leads", 5*time.Second, a.l.IsLeader)
	b := w.replica("b")
	waitUntil(t, "b sees a", 5*time.Second, func() bool { v, ok := b.l.Leader(); return ok && v.ID == "a" })
	stopWatch := overlapWatch(a.l, b.l)
	// a is cut off from NATS (a crash or a partition, as a sees it): its
	// renewals fail, it must stop on its own deadline, before the key
	// expires on the server and b can take it.
	cut := time.Now()
	a.nc.Close()
	stopped := waitUntil(t, "a stops", 2*w.ttl, func() bool { return !a.l.IsLeader() })
	took := waitUntil(t, "b leads", 3*w.ttl, b.l.IsLeader)
	t.Logf("silent leader: a stopped acting %s after the cut, b leads %s after it (TTL %s)", stopped, time.Since(cut), w.ttl)
	if stopped >= w.ttl {
		t.Errorf("Got(a stopped after) = %s, want before the TTL %s", stopped, w.ttl)
	}
	if took > 2*w.ttl {
		t.Errorf("Got(failover) = %s, want within 2×TTL = %s", took, 2*w.ttl)
	}
	if n := stopWatch(); n != 0 {
		t.Errorf("Got(instants with two leaders) = %d, want 0", n)
	}
}

func TestLeaseLocalDeadlineOnInjectedClock(t *testing.T) {
	t.Parallel()
	w := newLeaseWorld(t, 2*time.Second)
	c := orchtest.NewClock(t0)
	a := w.replica("a", lease.WithClock(c.Now), lease.WithMargin(500*time.Millisecond))
	waitUntil(t, "a leads", 5*time.Second, a.l.IsLeader)
	// Whatever the server thinks, a stops once its own clock says the TTL
	// minus the margin has passed since its last renewal was sent.
	c.Add(1400 * time.Millisecond)
	if !a.l.IsLeader() {
		t.Fatal("Got(IsLeader before the deadline) = false, want true")
	}
	c.Add(200 * time.Millisecond) // 1.6 s > 2 s − 0.5 s
	if a.l.IsLeader() {
		t.Fatal("Got(IsLeader past the local deadline) = true, want false")
	}
	if v, ok := w.holder(); !ok || v.ID != "a" {
		t.Fatalf("Got(stored holder) = %+v, want a still (the server TTL has not run out)", v)
	}
	// The next renewal (real time, TTL/3) succeeds at the held revision: the
	// key was never lost, so a leads again from the new deadline.
	waitUntil(t, "a leads again after renewing", 3*time.Second, a.l.IsLeader)
}

func TestLeaseOwnIDTakesBackItsKey(t *testing.T) {
	t.Parallel()
	w := newLeaseWorld(t, 10*time.Second)
	nc := bustest.Conn(t, w.ns)
	js, _ := jetstream.New(nc)
	kv, err := js.KeyValue(t.Context(), "vmfleet_leader")
	if err != nil {
		t.Fatal(err)
	}
	// A crashed run of replica "a" left its key, alive for 10 s more.
	crashed, err := lease.New(kv, "a", w.ttl)
	if err != nil {
		t.Fatal(err)
	}
	crashed.Step(t.Context())
	if !crashed.IsLeader() {
		t.Fatal("first run did not lead")
	}
	other := w.replica("b")
	again := w.replica("a")
	waitUntil(t, "a's new run leads", 3*time.Second, again.l.IsLeader)
	if other.l.IsLeader() {
		t.Error("Got(b leading) = true, want false while a holds the key")
	}
}

// A renew that went through while its answer was lost (the shutdown cut it
// short) leaves the key at a later revision of this term: the hand-back
// still deletes it, so a follower need not wait for the TTL.
func TestLeaseHandsBackAfterARenewWithoutAnswer(t *testing.T) {
	t.Parallel()
	w := newLeaseWorld(t, 10*time.Second)
	l, err := lease.New(w.kv, "a", w.ttl, lease.WithLogger(testLogger(t, slog.LevelInfo)))
	if err != nil {
		t.Fatal(err)
	}
	l.Step(t.Context())
	if !l.IsLeader() {
		t.Fatal("a did not lead")
	}
	e, err := w.kv.Get(t.Context(), lease.Key)
	if err != nil {
		t.Fatal(err)
	}
	// The renew the lease never heard back from: the same term, rewritten.
	if _, err := w.kv.Update(t.Context(), lease.Key, e.Value(), e.Revision()); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(t.Context()); err != nil {
		t.Fatalf("Got(Release) = %v, want the key handed back", err)
	}
	if v, ok := w.holder(); ok {
		t.Errorf("Got(holder after the hand-back) = %+v, want none", v)
	}
	// Another replica's key is never deleted by a late hand-back.
	if _, err := w.kv.Put(t.Context(), lease.Key, []byte(`{"id":"b"}`)); err != nil {
		t.Fatal(err)
	}
	l.Step(t.Context()) // a cannot take it: b holds it
	if err := l.Release(t.Context()); err != nil {
		t.Fatalf("Got(Release while not leading) = %v, want nil", err)
	}
	if v, ok := w.holder(); !ok || v.ID != "b" {
		t.Errorf("Got(holder) = %+v, %v, want b's key kept", v, ok)
	}
}

func TestLeaseLosesKeyOverwritten(t *testing.T) {
	t.Parallel()
	w := newLeaseWorld(t, time.Second)
	a := w.replica("a")
	waitUntil(t, "a leads", 5*time.Second, a.l.IsLeader)
	// Someone else wrote the key (an operator, a split): a's next renewal
	// at its revision fails and a stops at once.
	if _, err := w.kv.Put(t.Context(), lease.Key, []byte(`{"id":"intruder"}`)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "a stops", w.ttl, func() bool { return !a.l.IsLeader() })
	if v, ok := a.l.Leader(); ok && v.ID == "a" {
		t.Errorf("Got(Leader) = %+v, want not a", v)
	}
}

func TestNewLeaseRejectsBadInput(t *testing.T) {
	t.Parallel()
	w := newLeaseWorld(t, time.Second)
	tests := []struct {
		name string
		kv   jetstream.KeyValue
		id   string
		ttl  time.Duration
	}{
		{"nil bucket", nil, "a", time.Second},
		{"bad id", w.kv, "a.b", time.Second},
		{"empty id", w.kv, "", time.Second},
		{"negative ttl", w.kv, "a", -time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := lease.New(tt.kv, tt.id, tt.ttl); err == nil {
				t.Errorf("Got(New %s) = nil error, want ErrInvalidOption", tt.name)
			}
		})
	}
}
