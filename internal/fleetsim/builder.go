package fleetsim

import (
	"context"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/buildkitefake"
)

// tmpName is the temporary VM a host build works under: it contains the
// image's name but does not parse with the template, so the agent says "a
// build in progress" and never counts it ready.
func tmpName(b buildkitefake.Build) string {
	return b.Env[events.EnvImage] + "-tmp-" + itoa(b.Number)
}

// outcome is the end of a build step (DESIGN §8), run by the fake Buildkite
// as the build finishes, before anyone can see it passed: in registry mode
// the image is pushed; in host mode `vmfleet agent publish-image` renames the
// temporary VM to the image's name on the pinned host. A failed publish
// fails the build, as it would in the pipeline.
func (s *Sim) outcome(b buildkitefake.Build) buildkitefake.State {
	if ref := b.Env[events.EnvRegistryRef]; ref != "" {
		s.reg.push(ref)
		return buildkitefake.StatePassed
	}
	h := s.byToken[b.Env[events.EnvTargetHost]]
	if h == nil || h.agent.Load() == nil {
		return buildkitefake.StateFailed
	}
	ctx, cancel := context.WithTimeout(s.runCtx(), 30*time.Second)
	defer cancel()
	if _, err := h.agent.Load().PublishImage(ctx, tmpName(b), b.Env[events.EnvImage]); err != nil {
		s.opts.log.Warn("publish-image failed: the build fails", "host", h.name, "build", b.Number, "err", err)
		return buildkitefake.StateFailed
	}
	return buildkitefake.StatePassed
}

// onBuild plays the pinned host's side of a host build: the temporary VM
// appears when the build starts running and goes if the build fails.
func (s *Sim) onBuild(b buildkitefake.Build) {
	h := s.byToken[b.Env[events.EnvTargetHost]]
	if h == nil {
		return
	}
	switch b.State {
	case buildkitefake.StateRunning:
		h.fake.Add(events.VM{Name: tmpName(b), DiskGB: 80, SizeGB: 55})
	case buildkitefake.StateFailed, buildkitefake.StateCanceled:
		if h.fake.Has(tmpName(b)) {
			_ = h.fake.Delete(context.WithoutCancel(s.runCtx()), tmpName(b))
		}
	}
}
