package builds

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/buildkite"
)

// create writes the record for a new attempt (Create, or Update at prev's
// revision), and only then asks Buildkite for the build. done releases the
// cap reservation once the record is written or abandoned.
func (m *Manager) create(ctx context.Context, w Want, attempt int, prev *Record, done func()) {
	now := m.now()
	rec := &Record{
		Key: w.Key, Image: w.Image, Release: w.Release, Host: w.Host, RegistryRef: w.RegistryRef,
		Bun: w.Bun, Bootstrap: w.Bootstrap, Digest: digest(w), State: events.BuildRequested,
		Attempt: attempt, Try: 1, RequestedAt: now, UpdatedAt: now,
	}
	if prev != nil && attempt > 1 {
		rec.Cancels = prev.Cancels // a next attempt of the same build
	}
	kctx, cancel := context.WithTimeout(ctx, m.cfg.RequestTimeout)
	var rev uint64
	var err error
	if prev == nil {
		rev, err = m.store.Create(kctx, rec)
	} else {
		rev, err = m.store.Update(kctx, rec, prev.Revision)
	}
	cancel()
	if err != nil {
		done()
		if errors.Is(err, errConflict) {
			m.reload(ctx, w.Key)
			return
		}
		m.log.Warn("cannot write build record", "build", w.Key, "err", err)
		return
	}
	rec.Revision = rev
	m.mu.Lock()
	m.setLocked(rec)
	m.mu.Unlock()
	done()
	m.onChange(prev, rec)
	m.callCreate(ctx, rec)
}

// callCreate asks Buildkite for the record's build and records the outcome.
func (m *Manager) callCreate(ctx context.Context, rec *Record) {
	info, err := m.bk.CreateBuild(ctx, buildRequest(rec))
	now := m.now()
	var rl *buildkite.RateLimitError
	switch {
	case err == nil:
		m.log.Info("build created", "build", rec.Key, "number", info.Number, "attempt", rec.Attempt)
		m.observe(ctx, info, true)
	case errors.As(err, &rl):
		m.setGate(now.Add(rl.Reset))
		m.note(ctx, rec.Key, func(r *Record) { r.CheckAfter = now.Add(rl.Reset); r.Error = err.Error() })
	case buildkite.MayHaveCreated(err):
		m.log.Warn("build create in doubt; will check Buildkite before creating again", "build", rec.Key, "err", err)
		m.note(ctx, rec.Key, func(r *Record) { r.Doubt = true; r.CheckAfter = now.Add(m.cfg.DoubtDelay); r.Error = err.Error() })
	default:
		m.log.Warn("build create refused", "build", rec.Key, "err", err)
		m.finish(ctx, rec.Key, rec.Attempt, events.BuildFailed, "", err.Error())
	}
}

// buildRequest is the Buildkite build for a record (docs/orchestrator.md#builds).
func buildRequest(r *Record) buildkite.BuildRequest {
	env := map[string]string{
		events.EnvImage: r.Image, events.EnvKey: r.Key, events.EnvRelease: r.Release,
		events.EnvBun: r.Bun, events.EnvBootstrap: r.Bootstrap,
	}
	msg := fmt.Sprintf("vmfleet: build %s", r.Image)
	if r.Host != "" {
		env[events.EnvTargetHost] = r.Host
		msg += " on " + r.Host
	}
	if r.RegistryRef != "" {
		env[events.EnvRegistryRef] = r.RegistryRef
		msg += " and push " + r.RegistryRef
	}
	return buildkite.BuildRequest{
		Key: r.Key, Attempt: r.Attempt, Message: fmt.Sprintf("%s (attempt %d)", msg, r.Attempt), Env: env,
		MetaData: map[string]string{events.MetaKey: r.Key, events.MetaImage: r.Image, buildkite.MetaAttempt: strconv.Itoa(r.Attempt)},
	}
}

// resolve settles a requested record without a build number: it lists
// Buildkite's builds for the key and adopts this attempt's build (or any live
// one), cancelling extra live ones; only when there is none does it create
// again, after winning a compare-and-set on the record. w is nil when no host
// wants the key any more: then nothing is created.
func (m *Manager) resolve(ctx context.Context, rec *Record, w *Want) {
	now := m.now()
	builds, err := m.bk.ListBuilds(ctx, rec.Key)
	var rl *buildkite.RateLimitError
	switch {
	case errors.As(err, &rl):
		m.setGate(now.Add(rl.Reset))
		m.note(ctx, rec.Key, func(r *Record) { r.CheckAfter = now.Add(rl.Reset) })
		return
	case err != nil:
		m.log.Warn("cannot list builds", "build", rec.Key, "err", err)
		m.note(ctx, rec.Key, func(r *Record) { r.CheckAfter = now.Add(m.cfg.DoubtDelay); r.Error = err.Error() })
		return
	}
	if found, ok := pick(builds, rec.Attempt); ok {
		m.log.Info("adopting build", "build", rec.Key, "number", found.Number, "state", found.RawState)
		m.observe(ctx, found, true)
		m.cancelExtra(ctx, builds, found.Number)
		return
	}
	if w == nil {
		m.finish(ctx, rec.Key, rec.Attempt, events.BuildCanceled, ReasonUnwanted, "no host wants this image any more")
		return
	}
	next, err := m.mutate(ctx, rec.Key, func(r *Record) error {
		if r.State != events.BuildRequested || r.Number != 0 || r.Attempt != rec.Attempt || r.Try != rec.Try {
			return errNoChange
		}
		r.Try++
		r.Doubt, r.Error, r.CheckAfter = false, "", time.Time{}
		return nil
	})
	if err == nil {
		m.callCreate(ctx, next)
	}
}

// pick chooses the build to adopt: this attempt's, else any live one.
func pick(builds []buildkite.BuildInfo, attempt int) (buildkite.BuildInfo, bool) {
	for _, b := range builds {
		if b.Attempt == attempt {
			return b, true
		}
	}
	for _, b := range builds {
		if b.State.Live() {
			return b, true
		}
	}
	return buildkite.BuildInfo{}, false
}

// cancelExtra cancels live builds of one key other than keep: the invariant
// is one live build per key, whatever happened before.
func (m *Manager) cancelExtra(ctx context.Context, builds []buildkite.BuildInfo, keep int) {
	for _, b := range builds {
		if b.Number != keep && b.State.Live() {
			m.log.Warn("cancelling duplicate build", "build", b.Key, "number", b.Number, "kept", keep)
			if _, err := m.bk.CancelBuild(ctx, b.Number); err != nil {
				m.log.Warn("cannot cancel duplicate build", "build", b.Key, "number", b.Number, "err", err)
			}
		}
	}
}

// poll reads one live build (the webhook fallback).
func (m *Manager) poll(ctx context.Context, key string, number int) {
	info, err := m.bk.GetBuild(ctx, number)
	var rl *buildkite.RateLimitError
	switch {
	case errors.As(err, &rl):
		m.setGate(m.now().Add(rl.Reset))
		return
	case err != nil:
		m.log.Warn("cannot poll build", "build", key, "number", number, "err", err)
		return
	}
	if info.Key == "" {
		info.Key = key
	}
	m.observe(ctx, info, false)
}
