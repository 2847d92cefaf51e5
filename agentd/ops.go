package agentd

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/tart"
)

// ours checks that name is a valid VM name that parses with the current
// spec's template, or the staged spec's: the agent creates only images it
// would recognise.
func (a *Agent) ours(field, name string) error {
	if err := events.ValidateVMName(name); err != nil {
		return &events.FieldError{Field: field, Reason: err.Error()}
	}
	spec, _ := a.Spec()
	if _, ok := spec.ParseName(name); ok {
		return nil
	}
	if next, _ := a.Next(); next != nil {
		if _, ok := next.ParseName(name); ok {
			return nil
		}
	}
	return fmt.Errorf("%s %q: %w %q", field, name, ErrNotOurs, spec.NameTemplate)
}

// PublishImage renames a finished build from its temporary name to its final
// image name under the host lock, then checks and publishes at once
// (docs/agent.md). to must parse with the spec's name template; from must not.
func (a *Agent) PublishImage(ctx context.Context, from, to string) (events.HostHealth, error) {
	if err := events.ValidateVMName(from); err != nil {
		return events.HostHealth{}, &events.FieldError{Field: "from", Reason: err.Error()}
	}
	if err := a.ours("to", to); err != nil {
		return events.HostHealth{}, err
	}
	if from == to {
		return events.HostHealth{}, &events.FieldError{Field: "from", Reason: fmt.Sprintf("%q is already the final name", from)}
	}
	unlock, err := a.lockHost(ctx)
	if err != nil {
		return events.HostHealth{}, err
	}
	defer unlock()
	rctx, cancel := context.WithTimeout(ctx, a.cfg.TartTimeout)
	err = a.tart.Rename(rctx, from, to)
	cancel()
	if err != nil {
		if errors.Is(err, tart.ErrExists) {
			err = fmt.Errorf("publish image: %q already exists: delete it first (tart delete %s) or build another version: %w", to, to, err)
		}
		return events.HostHealth{}, err
	}
	a.log.Info("image published", "vm", to, "from", from)
	return a.CheckAndPublish(ctx)
}

// Pull clones req.Source (a registry reference: cloning it pulls it) to the
// local VM req.Name under the host lock, then checks and publishes. A name
// that already exists is success (the request is idempotent). An image only
// the staged spec wants is pulled only when it fits beside the host's images
// (roomFor): else nothing is pulled or deleted, and the error wraps
// ErrNoSpace, with the health (staged: no_space) beside it.
func (a *Agent) Pull(ctx context.Context, req events.PullRequest) (events.HostHealth, error) {
	if err := req.Validate(); err != nil {
		return events.HostHealth{}, err
	}
	if err := a.ours("name", req.Name); err != nil {
		return events.HostHealth{}, err
	}
	unlock, err := a.lockHost(ctx)
	if err != nil {
		return events.HostHealth{}, err
	}
	if err := a.roomFor(ctx, req.Name); err != nil {
		unlock()
		if !errors.Is(err, ErrNoSpace) {
			return events.HostHealth{}, fmt.Errorf("pull %s as %s: %w", req.Source, req.Name, err)
		}
		a.log.Warn("pull refused: no room for the staged image", "vm", req.Name, "err", err)
		h, cerr := a.CheckAndPublish(ctx)
		if cerr != nil && h.Host == "" {
			return h, cerr
		}
		return h, err
	}
	cctx, cancel := context.WithTimeout(ctx, a.cfg.PullTimeout)
	err = a.tart.Clone(cctx, req.Source, req.Name)
	cancel()
	// The check reads only: the host's next command need not wait for it.
	unlock()
	switch {
	case errors.Is(err, tart.ErrExists):
		a.log.Info("pull: image already present", "vm", req.Name)
	case err != nil:
		return events.HostHealth{}, fmt.Errorf("pull %s as %s: %w", req.Source, req.Name, err)
	default:
		a.log.Info("image pulled", "vm", req.Name, "image", req.Source)
	}
	return a.CheckAndPublish(ctx)
}

// lockHost takes this agent's turn, then the host lock (LockHost), until ctx
// ends. The agent's own commands (two pulls, a pull and a prune) queue on
// the turn and the next one starts the moment the previous one ends; on the
// flock alone they would poll for it, up to 250ms apart. The flock still
// keeps other processes (publish-image, another agent) out.
func (a *Agent) lockHost(ctx context.Context) (unlock func(), err error) {
	select {
	case a.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: %w: %w", filepath.Join(a.cfg.TartHome, LockFile), ErrLockBusy, context.Cause(ctx))
	}
	lock, err := LockHost(ctx, a.cfg.TartHome)
	if err != nil {
		<-a.turn
		return nil, err
	}
	return func() {
		_ = lock.Unlock()
		<-a.turn
	}, nil
}
