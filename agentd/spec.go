package agentd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/cleanup"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
)

// errWatchEnded means the KV watcher stopped delivering (connection closed).
var errWatchEnded = errors.New("spec watch ended")

// errWatchStalled means the KV watcher is open but missed a revision.
var errWatchStalled = errors.New("spec watch stalled")

// hookReconnect makes the agent republish its latest health after every
// reconnect, keeping the handler already set (and the other agents' hooks
// when several share the connection). The returned function removes the
// hook.
func (a *Agent) hookReconnect() (unhook func()) {
	if a.nc == nil {
		return func() {}
	}
	// A first connection made late (RetryOnFailedConnect) needs nothing:
	// nats.go flushes what was published meanwhile.
	return addReconnectHook(a.nc, a, func() {
		select {
		case a.republishCh <- struct{}{}:
		default:
		}
	})
}

// specKeys are the keys of bucket vmfleet_spec the agent follows: the spec in
// force and the staged one.
var specKeys = []string{events.SpecKey, events.NextSpecKey}

// watchSpec follows keys current and next of bucket vmfleet_spec: the spec
// found under current replaces the local image spec, the one under next is
// the staged spec whose images the agent reports in HostHealth.Staged, and
// a change of either triggers a check at once. While the bucket does not
// exist (no orchestrator yet) or NATS is down, it retries quietly and the
// local spec stays in force.
func (a *Agent) watchSpec(ctx context.Context) error {
	js, err := jetstream.New(a.nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	quiet := true
	for {
		err := a.followSpec(ctx, js)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, jetstream.ErrBucketNotFound) || quiet {
			a.log.Debug("spec bucket not readable yet; using the local spec", "err", err)
		} else {
			a.log.Warn("spec watch failed; retrying", "err", bus.Explain(a.nc, err))
		}
		quiet = errors.Is(err, jetstream.ErrBucketNotFound)
		// No watch (e.g. the server's cap on consumers per stream is
		// reached): a plain read keeps the spec current meanwhile.
		a.pollSpec(ctx, js)
		t := time.NewTimer(a.specRetry)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

func (a *Agent) followSpec(ctx context.Context, js jetstream.JetStream) error {
	kv, err := a.specBucket(ctx, js)
	if err != nil {
		return err
	}
	watch := kv.WatchFiltered
	if a.specWatch != nil {
		watch = a.specWatch(kv)
	}
	// One watch (one consumer) for both keys.
	w, err := watch(ctx, slices.Clone(specKeys)) // WatchFiltered rewrites its argument
	if err != nil {
		a.forgetSpecBucket(kv)
		return err
	}
	defer func() { _ = w.Stop() }()
	// A watch that stops delivering without closing would leave the host on
	// an old spec: every five heartbeats a read compares the keys' revisions
	// with the last one delivered, and a watch behind at two reads in a row
	// (behind the same way) is made again (a new watch starts with the
	// current values). Five: a fleet of 10,000 hosts on 60 s heartbeats reads
	// 33 times a second (twice that with a rollout: one read per key).
	every := a.specCheck
	if every <= 0 {
		every = max(5*a.cfg.Heartbeat, time.Second)
	}
	check := time.NewTicker(every)
	defer check.Stop()
	var delivered uint64
	var behind string
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-check.C:
			lag := a.watchLag(ctx, js, delivered)
			if lag == "" {
				behind = ""
				continue
			}
			if behind == lag {
				return fmt.Errorf("%w: %s", errWatchStalled, lag)
			}
			behind = lag
		case e, ok := <-w.Updates():
			if !ok {
				return errWatchEnded
			}
			if e != nil {
				delivered = max(delivered, e.Revision())
				a.applySpecEntry(e)
			}
		}
	}
}

// watchLag reads both spec keys and says how the watch is behind them ("":
// it is not, or a read failed): a key at a revision after the last one
// delivered, or a key gone while the agent still holds a spec from it.
func (a *Agent) watchLag(ctx context.Context, js jetstream.JetStream, delivered uint64) string {
	var lag []string
	for _, key := range specKeys {
		e, err := a.readSpec(ctx, js, key)
		switch {
		case err != nil:
			return ""
		case e != nil && e.Revision() > delivered:
			lag = append(lag, fmt.Sprintf("%s is at revision %d, the watch delivered %d", key, e.Revision(), delivered))
		case e == nil && a.heldRevision(key) != 0:
			lag = append(lag, fmt.Sprintf("%s was deleted, the watch did not say so", key))
		}
	}
	return strings.Join(lag, "; ")
}

// heldRevision is the KV revision of the spec in force from key (0: none).
func (a *Agent) heldRevision(key string) uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if key == events.NextSpecKey {
		return a.nextRev
	}
	return a.specRev
}

// readSpec reads one spec key once: nil, nil when the key does not exist
// (or was deleted). A missing bucket is an error: it says nothing of the
// spec (the orchestrator may not have made it yet).
func (a *Agent) readSpec(ctx context.Context, js jetstream.JetStream, key string) (jetstream.KeyValueEntry, error) {
	ctx, cancel := context.WithTimeout(ctx, max(a.specRetry, 5*time.Second))
	defer cancel()
	kv, err := a.specBucket(ctx, js)
	if err != nil {
		return nil, err
	}
	e, err := kv.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return nil, nil
	case err != nil && !slowServer(err):
		a.forgetSpecBucket(kv)
	}
	return e, err
}

// slowServer tells a read that timed out (the server or the network is
// slow; the bucket is as it was) from one refused: after a timeout the
// handle is kept, so that an overloaded server is not sent a lookup on top.
func slowServer(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout)
}

// specBucket is the handle of bucket vmfleet_spec, looked up once and kept:
// a lookup is a request to the JetStream API (a stream info), while a read
// through the handle is a direct get the stream answers itself. A fleet of
// 10,000 agents checking their watch every five heartbeats would otherwise
// queue dozens of API requests a second on the server, thousands at once
// after a reconnect.
func (a *Agent) specBucket(ctx context.Context, js jetstream.JetStream) (jetstream.KeyValue, error) {
	a.specKVMu.Lock()
	kv := a.specKV
	a.specKVMu.Unlock()
	if kv != nil {
		return kv, nil
	}
	kv, err := js.KeyValue(ctx, events.BucketSpec)
	if err != nil {
		return nil, err
	}
	a.specKVMu.Lock()
	a.specKV = kv
	a.specKVMu.Unlock()
	return kv, nil
}

// forgetSpecBucket drops the kept handle kv after a read through it failed
// (the bucket may have been deleted and made again): the next read looks
// it up again.
func (a *Agent) forgetSpecBucket(kv jetstream.KeyValue) {
	a.specKVMu.Lock()
	if a.specKV == kv {
		a.specKV = nil
	}
	a.specKVMu.Unlock()
}

// pollSpec stands in for the watch while none can be made (e.g. the server's
// cap on consumers per stream is reached): it reads each spec key and
// applies it when its revision is not the one in force; a missing key
// brings the local spec back (current) or ends the rollout (next), as a
// delete seen by the watch does.
func (a *Agent) pollSpec(ctx context.Context, js jetstream.JetStream) {
	for _, key := range specKeys {
		e, err := a.readSpec(ctx, js, key)
		held := a.heldRevision(key)
		rejected := &a.pollRejected
		if key == events.NextSpecKey {
			rejected = &a.pollRejectedNext
		}
		switch {
		case err != nil:
			a.log.Debug("cannot read the spec", "key", key, "err", err)
			return
		case e == nil && held != 0:
			a.useKey(key, nil, 0) // the key is gone
		case e != nil && e.Revision() != held && e.Revision() != rejected.Load():
			if !a.applySpecEntry(e) {
				rejected.Store(e.Revision()) // invalid: said once, not on every retry
			}
		}
	}
}

// applySpecEntry applies a KV entry of a spec key (a delete brings the local
// spec back, or ends the rollout); false when the entry holds an invalid
// spec, which is ignored: the last good spec of that key stays in force.
func (a *Agent) applySpecEntry(e jetstream.KeyValueEntry) bool {
	if e.Operation() != jetstream.KeyValuePut {
		a.useKey(e.Key(), nil, 0)
		return true
	}
	s, err := decodeSpec(e.Value())
	if err != nil {
		a.log.Warn("ignoring invalid spec in KV; the last good spec stays in force", "bucket", events.BucketSpec, "key", e.Key(), "revision", e.Revision(), "err", err)
		a.metrics.specReject()
		return false
	}
	a.useKey(e.Key(), &s, e.Revision())
	return true
}

// useKey puts what key holds in force: the current spec or the staged one.
func (a *Agent) useKey(key string, s *events.Spec, rev uint64) {
	switch key {
	case events.SpecKey:
		a.useSpec(s, rev)
	case events.NextSpecKey:
		a.useNext(s, rev)
	}
}

// useSpec puts the KV spec s at revision rev in force, or the configured
// image spec when s is nil; a change of revision triggers a check.
func (a *Agent) useSpec(s *events.Spec, rev uint64) {
	images := a.cfg.Images
	if s != nil {
		images = s.Images
	}
	a.mu.Lock()
	changed := rev != a.specRev
	a.fullSpec, a.spec, a.specRev = s, images, rev
	a.mu.Unlock()
	if changed {
		a.log.Info("image spec changed", "revision", rev, "releases", images.Releases, "bun", images.BunVersion, "bootstrap", images.BootstrapVersion)
		a.trigger()
	}
}

// useNext puts the staged spec s at revision rev in force (nil: no rollout);
// a change of revision triggers a check.
func (a *Agent) useNext(s *events.Spec, rev uint64) {
	a.mu.Lock()
	changed := rev != a.nextRev
	a.next, a.nextRev = s, rev
	a.mu.Unlock()
	if !changed {
		return
	}
	if s == nil {
		a.log.Info("staged spec gone: no rollout in progress")
	} else {
		a.log.Info("staged spec changed", "revision", rev, "releases", s.Images.Releases, "bun", s.Images.BunVersion, "bootstrap", s.Images.BootstrapVersion)
	}
	a.trigger()
}

// decodeSpec reads the spec as stored in KV (events.DecodeSpec) and checks,
// as the orchestrator does, that its cleanup windows' schedules parse.
func decodeSpec(b []byte) (events.Spec, error) {
	s, err := events.DecodeSpec(b)
	if err != nil {
		return s, err
	}
	if _, err := cleanup.ParseWindows(s.Cleanup.Windows); err != nil {
		return s, &events.FieldError{Field: "cleanup.windows", Reason: err.Error()}
	}
	return s, nil
}

// SyncSpec reads the spec (and the staged spec) from KV once, for one-shot
// commands (`vmfleet agent check --nats-url ...`). It reports whether a valid
// current spec was found; a missing bucket or key is not an error (the local
// spec stays in force).
func (a *Agent) SyncSpec(ctx context.Context) (bool, error) {
	if a.nc == nil {
		return false, ErrNoNATS
	}
	js, err := jetstream.New(a.nc)
	if err != nil {
		return false, fmt.Errorf("jetstream: %w", err)
	}
	kv, err := js.KeyValue(ctx, events.BucketSpec)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read spec bucket %s: %w", events.BucketSpec, err)
	}
	for _, key := range specKeys {
		e, err := kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("read spec %s/%s: %w", events.BucketSpec, key, err)
		}
		a.applySpecEntry(e)
	}
	_, rev := a.Spec()
	return rev != 0, nil
}
