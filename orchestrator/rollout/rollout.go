package rollout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
)

// ErrNoStagedSpec means there is no staged spec (KV key next) to promote.
var ErrNoStagedSpec = errors.New("no staged spec: stage one first (vmfleet spec stage)")

// ErrNothingStaged means a stage would leave the images as they are.
var ErrNothingStaged = errors.New("the staged spec would ask for the images in force: nothing to roll out")

// Core is what the spec operations need of the orchestrator's core.
type Core interface {
	// KV is the spec bucket (vmfleet_spec).
	KV() jetstream.KeyValue
	// Spec is the spec in force.
	Spec() events.Spec
	// Writable says whether the spec may change now (started, leader).
	Writable() error
	// AdoptSpec puts s in force unless a newer revision already is.
	AdoptSpec(s events.Spec)
	// SetNext puts the staged spec s (nil: none) at revision rev in force.
	SetNext(s *events.Spec, rev uint64)
	// UnblockImages starts again the blocked build keys of the images.
	UnblockImages(ctx context.Context, im events.ImageSpec)
	// Trigger asks for a reconcile pass.
	Trigger()
}

// Ops are the spec operations over a Core.
type Ops struct {
	Core Core
	// Source is the CloudEvents source of the specs written.
	Source string
	// Now is the clock.
	Now func() time.Time
	// Timeout bounds each KV request.
	Timeout time.Duration
	Log     *slog.Logger
	// Fleet is the snapshot of the fleet a change's preview looks at
	// (nil: an empty fleet).
	Fleet func() Fleet
}

// SpecUpdate is POST /api/v1/spec: an operator's `vmfleet spec set`. Unset
// fields keep their value.
type SpecUpdate struct {
	BootstrapVersion *string  `json:"bootstrap_version,omitempty"`
	BunVersion       *string  `json:"bun_version,omitempty"`
	Releases         []string `json:"releases,omitempty"`
	// Registry "" switches to building on each host.
	Registry *string `json:"registry,omitempty"`
	// By names the operator (events.Spec.UpdatedBy).
	By string `json:"by,omitempty"`
	// Reason says why (events.Spec.Reason); it is recorded with the change.
	Reason string `json:"reason,omitempty"`
	// AutoPromote, for a stage (POST /api/v1/spec/next) only, is the share
	// of non-stale hosts that must hold every staged image before the
	// orchestrator promotes it (events.Spec.AutoPromote); unset: by hand.
	AutoPromote *float64 `json:"auto_promote,omitempty"`
	// DryRun, for a set, answers the change's preview and writes nothing
	// (the error is a *PreviewError wrapping ErrDryRun).
	DryRun bool `json:"dry_run,omitempty"`
	// Confirm, for a set, applies a change that needs a confirmation (it
	// removes a release, or makes more than spec.confirm_not_ready_fraction
	// of the hosts not ready); without it such a change is refused
	// (ErrConfirmNeeded) with its preview.
	Confirm bool `json:"confirm,omitempty"`
	// Action names the change in its preview and log: ActionSet when empty,
	// ActionRollback for a rollback. Not part of the API's body.
	Action string `json:"-"`
}

// SpecPromote is POST /api/v1/spec/promote: an operator's `vmfleet spec
// promote`.
type SpecPromote struct {
	// By names the operator (events.Spec.UpdatedBy); "" keeps the stager's.
	By string `json:"by,omitempty"`
	// Reason says why (events.Spec.Reason); "" keeps the stager's.
	Reason string `json:"reason,omitempty"`
	// DryRun and Confirm are SpecUpdate's.
	DryRun  bool `json:"dry_run,omitempty"`
	Confirm bool `json:"confirm,omitempty"`
}

func (u SpecUpdate) apply(s events.Spec) events.Spec {
	if u.BootstrapVersion != nil {
		s.Images.BootstrapVersion = *u.BootstrapVersion
	}
	if u.BunVersion != nil {
		s.Images.BunVersion = *u.BunVersion
	}
	if u.Releases != nil {
		s.Images.Releases = slices.Clone(u.Releases)
	}
	if u.Registry != nil {
		s.Images.Registry = *u.Registry
	}
	return s
}

// put writes b under key current: create when rev is 0, else
// compare-and-set on rev.
func (p *Ops) putCurrent(ctx context.Context, b []byte, rev uint64) (uint64, error) {
	kctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	if rev == 0 {
		return p.Core.KV().Create(kctx, events.SpecKey, b)
	}
	return p.Core.KV().Update(kctx, events.SpecKey, b, rev)
}

func raced(err error) bool {
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)
}

// SetSpec applies an operator's update to the spec in KV (compare-and-set on
// its revision, retried on a race) and puts it in force at once: agents
// re-check, builds for the new images start, and build keys of the new
// images that were blocked start again from attempt 1. An update that
// changes nothing writes nothing. The result is the spec in force.
//
// The change goes through the preview's gate first (Preview): a dry run
// (u.DryRun) and a change that needs a confirmation without u.Confirm
// return a *PreviewError with the preview and write nothing.
func (p *Ops) SetSpec(ctx context.Context, u SpecUpdate) (events.Spec, error) {
	if err := p.Core.Writable(); err != nil {
		return events.Spec{}, err
	}
	action := u.Action
	if action == "" {
		action = ActionSet
	}
	f := p.fleet()
	for range 5 {
		cur, rev, err := p.storedSpec(ctx)
		if err != nil {
			return events.Spec{}, err
		}
		next := u.apply(cur)
		if err := ValidateSpec(next); err != nil {
			return events.Spec{}, err
		}
		f.Current = cur
		if err := p.gate(f, Change{Action: action, To: next, Next: f.Next}, u.DryRun, u.Confirm); err != nil {
			return events.Spec{}, err
		}
		if rev != 0 && SameSpec(cur, next) {
			return cur, nil
		}
		next.UpdatedAt, next.UpdatedBy, next.Reason = p.Now().UTC(), u.By, u.Reason
		if next.UpdatedBy == "" {
			next.UpdatedBy = "api"
		}
		b, err := events.Encode(events.TypeSpec, p.Source, events.SpecKey, "", p.Now(), next)
		if err != nil {
			return events.Spec{}, err
		}
		rev, err = p.putCurrent(ctx, b, rev)
		if raced(err) {
			continue // another writer: apply the update to its spec
		}
		if err != nil {
			return events.Spec{}, fmt.Errorf("write spec to KV %s: %w", events.BucketSpec, err)
		}
		next.Revision = rev
		p.Core.AdoptSpec(next)
		p.Log.Info("spec set", "by", next.UpdatedBy, "reason", next.Reason, "revision", rev, "previous_revision", cur.Revision, "releases", next.Images.Releases,
			"bun", next.Images.BunVersion, "bootstrap", next.Images.BootstrapVersion, "registry", next.Images.Registry)
		p.Core.UnblockImages(ctx, next.Images)
		p.Core.Trigger()
		return next, nil
	}
	return events.Spec{}, fmt.Errorf("spec in KV %s keeps changing under us: retry", events.BucketSpec)
}

// storedSpec reads the spec in KV; rev is 0 when there is none (or it does
// not decode), and the spec in force is returned instead.
func (p *Ops) storedSpec(ctx context.Context) (events.Spec, uint64, error) {
	kctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	e, err := p.Core.KV().Get(kctx, events.SpecKey)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return p.Core.Spec(), 0, nil
	case err != nil:
		return events.Spec{}, 0, fmt.Errorf("read spec from KV %s: %w", events.BucketSpec, err)
	}
	s, err := DecodeSpec(e.Value())
	if err != nil {
		// Replace what cannot be read, at its revision.
		s = p.Core.Spec()
	}
	s.Revision = e.Revision()
	return s, e.Revision(), nil
}

// StageSpec records a staged spec (KV key next): the spec in force with the
// update applied, validated. It replaces any staged spec. Hosts keep the
// current images and get the staged ones beside them (builds and pulls
// after the current spec's needs); `PromoteSpec` makes it current. An
// update that leaves the images as they are is refused (ErrNothingStaged).
func (p *Ops) StageSpec(ctx context.Context, u SpecUpdate) (events.Spec, error) {
	if err := p.Core.Writable(); err != nil {
		return events.Spec{}, err
	}
	cur, _, err := p.storedSpec(ctx)
	if err != nil {
		return events.Spec{}, err
	}
	next := u.apply(cur)
	if u.AutoPromote != nil {
		next.AutoPromote = *u.AutoPromote
	}
	if err := ValidateSpec(next); err != nil {
		return events.Spec{}, err
	}
	if SameSpec(events.Spec{Images: cur.Images}, events.Spec{Images: next.Images}) {
		return events.Spec{}, fmt.Errorf("%w: %w", events.ErrInvalid, ErrNothingStaged)
	}
	// Removing a release always needs an operator's confirmation, which
	// a share of hosts cannot give.
	if gone := RemovedReleases(cur.Images, next.Images); next.AutoPromote > 0 && len(gone) > 0 {
		return events.Spec{}, &events.FieldError{Field: "auto_promote", Reason: fmt.Sprintf(
			"the staged spec removes macOS %s: stage it without auto-promote and promote it by hand (vmfleet spec promote --yes)",
			strings.Join(gone, ", "))}
	}
	next.UpdatedAt, next.UpdatedBy, next.Reason, next.Revision = p.Now().UTC(), u.By, u.Reason, 0
	if next.UpdatedBy == "" {
		next.UpdatedBy = "api"
	}
	b, err := events.Encode(events.TypeSpec, p.Source, events.NextSpecKey, "", p.Now(), next)
	if err != nil {
		return events.Spec{}, err
	}
	kctx, cancel := context.WithTimeout(ctx, p.Timeout)
	rev, err := p.Core.KV().Put(kctx, events.NextSpecKey, b)
	cancel()
	if err != nil {
		return events.Spec{}, fmt.Errorf("write staged spec to KV %s: %w", events.BucketSpec, err)
	}
	p.Core.SetNext(&next, rev)
	next.Revision = rev
	p.Log.Info("spec staged", "by", next.UpdatedBy, "reason", next.Reason, "revision", rev, "releases", next.Images.Releases,
		"bun", next.Images.BunVersion, "bootstrap", next.Images.BootstrapVersion, "registry", next.Images.Registry,
		"auto_promote", next.AutoPromote)
	p.Core.UnblockImages(ctx, next.Images)
	p.Core.Trigger()
	return next, nil
}

// PromoteSpec makes the staged spec current: it writes it under key current
// (compare-and-set on its revision) and deletes key next. pr.By and
// pr.Reason say who promotes and why ("" keeps the stager's). The result is
// the spec in force. The promotion goes through the preview's gate as
// SetSpec's change does (hosts holding the staged images stay ready).
func (p *Ops) PromoteSpec(ctx context.Context, pr SpecPromote) (events.Spec, error) {
	if err := p.Core.Writable(); err != nil {
		return events.Spec{}, err
	}
	f := p.fleet()
	for range 5 {
		kctx, cancel := context.WithTimeout(ctx, p.Timeout)
		e, err := p.Core.KV().Get(kctx, events.NextSpecKey)
		cancel()
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			return events.Spec{}, ErrNoStagedSpec
		case err != nil:
			return events.Spec{}, fmt.Errorf("read staged spec from KV %s: %w", events.BucketSpec, err)
		}
		staged, err := DecodeSpec(e.Value())
		if err != nil {
			return events.Spec{}, fmt.Errorf("the staged spec (revision %d) is invalid: %w", e.Revision(), err)
		}
		cur, rev, err := p.storedSpec(ctx)
		if err != nil {
			return events.Spec{}, err
		}
		staged.Revision = e.Revision()
		f.Current, f.Next = cur, &staged
		if err := p.gate(f, Change{Action: ActionPromote, To: staged}, pr.DryRun, pr.Confirm); err != nil {
			return events.Spec{}, err
		}
		// A stage changes only the images: the rest (the cleanup policy
		// and its windows) is the spec in force now, which may have changed
		// since the stage.
		promoted := cur
		promoted.Images = staged.Images
		promoted.UpdatedBy, promoted.Reason, promoted.AutoPromote = staged.UpdatedBy, staged.Reason, 0
		promoted.UpdatedAt = p.Now().UTC()
		if pr.By != "" {
			promoted.UpdatedBy = pr.By
		}
		if pr.Reason != "" {
			promoted.Reason = pr.Reason
		}
		b, err := events.Encode(events.TypeSpec, p.Source, events.SpecKey, "", p.Now(), promoted)
		if err != nil {
			return events.Spec{}, err
		}
		rev, err = p.putCurrent(ctx, b, rev)
		if raced(err) {
			continue
		}
		if err != nil {
			return events.Spec{}, fmt.Errorf("write spec to KV %s: %w", events.BucketSpec, err)
		}
		promoted.Revision = rev
		p.Core.AdoptSpec(promoted)
		// Delete the staged spec only if it is still the one promoted: a
		// stage that came in meanwhile is a new rollout.
		kctx, cancel = context.WithTimeout(ctx, p.Timeout)
		derr := p.Core.KV().Delete(kctx, events.NextSpecKey, jetstream.LastRevision(e.Revision()))
		cancel()
		if derr == nil {
			p.Core.SetNext(nil, 0)
		} else {
			p.Log.Warn("promoted, but the staged spec was not deleted", "err", derr)
		}
		p.Log.Info("spec promoted", "by", promoted.UpdatedBy, "reason", promoted.Reason, "revision", rev,
			"previous_revision", cur.Revision, "from_staged", e.Revision(),
			"releases", promoted.Images.Releases, "bun", promoted.Images.BunVersion, "bootstrap", promoted.Images.BootstrapVersion)
		p.Core.UnblockImages(ctx, promoted.Images)
		p.Core.Trigger()
		return promoted, nil
	}
	return events.Spec{}, fmt.Errorf("spec in KV %s keeps changing under us: retry", events.BucketSpec)
}

// UnstageSpec deletes the staged spec (the rollout is abandoned; its images
// are left to the cleanup rules). Without a staged spec it does nothing.
func (p *Ops) UnstageSpec(ctx context.Context) error {
	if err := p.Core.Writable(); err != nil {
		return err
	}
	kctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	if err := p.Core.KV().Delete(kctx, events.NextSpecKey); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("delete staged spec from KV %s: %w", events.BucketSpec, err)
	}
	p.Core.SetNext(nil, 0)
	p.Log.Info("staged spec deleted: no rollout in progress")
	p.Core.Trigger()
	return nil
}

// heldRevision is the staged revision whose auto-promotion was last held
// back (logged once per revision).
var heldRevision atomic.Uint64

// AutoPromote promotes the staged spec once its AutoPromote share of the
// non-stale hosts (at least one) hold every staged image (leader only:
// the caller checks; called by the summary with the counts it made),
// unless it would remove a release of the spec in force: that needs an
// operator's confirmation (logged once per staged revision).
func (p *Ops) AutoPromote(ctx context.Context, next *events.Spec, ready, live int) {
	if next == nil || next.AutoPromote <= 0 || live == 0 || p.Core.Writable() != nil {
		return
	}
	if ready < PromoteHosts(next.AutoPromote, live) {
		return
	}
	if gone := RemovedReleases(p.Core.Spec().Images, next.Images); len(gone) > 0 {
		// A release added to the spec in force after the stage: removing
		// it needs an operator (vmfleet spec promote --yes).
		if heldRevision.Swap(next.Revision) != next.Revision {
			p.Log.Warn("auto-promote held: the staged spec removes a release of the spec in force; promote by hand with --yes, or stage again",
				"revision", next.Revision, "removed_releases", gone)
		}
		return
	}
	p.Log.Info("auto-promoting the staged spec", "revision", next.Revision, "ready_hosts", ready, "hosts", live, "share", next.AutoPromote)
	pctx, cancel := context.WithTimeout(ctx, 2*p.Timeout+time.Second)
	defer cancel()
	// The stager's share is the confirmation: hosts short of the staged
	// images are at most the share left out (and no release goes).
	if _, err := p.PromoteSpec(pctx, SpecPromote{By: "auto-promote", Confirm: true}); err != nil && !errors.Is(err, ErrNoStagedSpec) {
		p.Log.Warn("auto-promote failed; retrying at the next pass", "err", err)
	}
}
