package agentd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/cleanup"
	"github.com/vmfleet/vmfleet/events"
)

// errWatchEnded means the KV watcher stopped delivering (connection closed).
var errWatchEnded = errors.New("spec watch ended")

// errWatchStalled means the KV watcher is open but missed a revision.
var errWatchStalled = errors.New("spec watch stalled")

// hookReconnect makes the agent republish its latest health after every
// reconnect, keeping the handler already set.
func (a *Agent) hookReconnect() {
	if a.nc == nil {
		return
	}
	a.hookOnce.Do(a.setReconnectHandler)
}

func (a *Agent) setReconnectHandler() {
	signal := func() {
		select {
		case a.republishCh <- struct{}{}:
		default:
		}
	}
	// A first connection made late (RetryOnFailedConnect) needs nothing:
	// nats.go flushes what was published meanwhile.
	prev := a.nc.Opts.ReconnectedCB
	a.nc.SetReconnectHandler(func(c *nats.Conn) {
		if prev != nil {
			prev(c)
		}
		signal()
	})
}

// watchSpec follows key current of bucket vmfleet_spec; the spec found there
// replaces the local image spec, and a change triggers a check at once.
// While the bucket does not exist (no orchestrator yet) or NATS is down, it
// retries quietly and the local spec stays in force.
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
			a.log.Warn("spec watch failed; retrying", "err", err)
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
	kv, err := js.KeyValue(ctx, events.BucketSpec)
	if err != nil {
		return err
	}
	watch := kv.Watch
	if a.specWatch != nil {
		watch = a.specWatch(kv)
	}
	w, err := watch(ctx, events.SpecKey)
	if err != nil {
		return err
	}
	defer func() { _ = w.Stop() }()
	// A watch that stops delivering without closing would leave the host on
	// an old spec: every five heartbeats a read compares the key's revision
	// with the last one delivered, and a watch behind at two reads in a row
	// is made again (a new watch starts with the current value). Five: a
	// fleet of 10,000 hosts on 60 s heartbeats reads 33 times a second.
	every := a.specCheck
	if every <= 0 {
		every = max(5*a.cfg.Heartbeat, time.Second)
	}
	check := time.NewTicker(every)
	defer check.Stop()
	var delivered, behind uint64
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-check.C:
			e, err := a.readSpec(ctx, js)
			if err != nil || e == nil || e.Revision() <= delivered {
				behind = 0
				continue
			}
			if behind == e.Revision() {
				return fmt.Errorf("%w: revision %d is in KV, the watch delivered %d", errWatchStalled, e.Revision(), delivered)
			}
			behind = e.Revision()
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

// readSpec reads the spec key once: nil, nil when the key does not exist
// (or was deleted). A missing bucket is an error: it says nothing of the
// spec (the orchestrator may not have made it yet).
func (a *Agent) readSpec(ctx context.Context, js jetstream.JetStream) (jetstream.KeyValueEntry, error) {
	ctx, cancel := context.WithTimeout(ctx, max(a.specRetry, 5*time.Second))
	defer cancel()
	kv, err := js.KeyValue(ctx, events.BucketSpec)
	if err != nil {
		return nil, err
	}
	e, err := kv.Get(ctx, events.SpecKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	return e, err
}

// pollSpec stands in for the watch while none can be made (e.g. the server's
// cap on consumers per stream is reached): it reads the spec and applies it
// when its revision is not the one in force; a missing key brings the local
// spec back, as a delete seen by the watch does.
func (a *Agent) pollSpec(ctx context.Context, js jetstream.JetStream) {
	e, err := a.readSpec(ctx, js)
	_, cur := a.Spec()
	switch {
	case err != nil:
		a.log.Debug("cannot read the spec", "err", err)
	case e == nil && cur != 0:
		a.useSpec(nil, 0) // the key is gone: the local spec again
	case e != nil && e.Revision() != cur && e.Revision() != a.pollRejected.Load():
		if !a.applySpecEntry(e) {
			a.pollRejected.Store(e.Revision()) // invalid: said once, not on every retry
		}
	}
}

// applySpecEntry applies a KV entry of the spec key (a delete brings the
// local spec back); false when the entry holds an invalid spec, which is
// ignored.
func (a *Agent) applySpecEntry(e jetstream.KeyValueEntry) bool {
	if e.Operation() != jetstream.KeyValuePut {
		a.useSpec(nil, 0)
		return true
	}
	s, err := decodeSpec(e.Value())
	if err != nil {
		a.log.Warn("ignoring invalid spec in KV", "bucket", events.BucketSpec, "revision", e.Revision(), "err", err)
		return false
	}
	a.useSpec(&s, e.Revision())
	return true
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

// SyncSpec reads the spec from KV once, for one-shot commands (`vmfleet
// agent check --nats-url ...`). It reports whether a valid spec was found;
// a missing bucket or key is not an error (the local spec stays in force).
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
	e, err := kv.Get(ctx, events.SpecKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read spec %s/%s: %w", events.BucketSpec, events.SpecKey, err)
	}
	a.applySpecEntry(e)
	_, rev := a.Spec()
	return rev != 0, nil
}
