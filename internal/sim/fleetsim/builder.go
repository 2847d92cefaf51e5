package fleetsim

import (
	"context"
	"sync"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/sim/buildkitefake"
)

// tmpName is the temporary VM a host build works under: it contains the
// image's name but does not parse with the template, so the agent says "a
// build in progress" and never counts it ready.
func tmpName(b buildkitefake.Build) string {
	return b.Env[events.EnvImage] + "-tmp-" + itoa(b.Number)
}

// outcome is the end of a build step (docs/routing.md), run by the fake Buildkite
// as the build finishes, before anyone can see it passed: in registry mode
// the image is pushed; in host mode `vmfleet agent publish-image` renames the
// temporary VM to the image's name on the pinned host (started when the build
// was due to end: see publishes). A failed publish fails the build, as it
// would in the pipeline.
func (s *Sim) outcome(b buildkitefake.Build) buildkitefake.State {
	if s.chaos.fails(b) {
		return buildkitefake.StateFailed // the chaos fails it: nothing is pushed or published
	}
	if ref := b.Env[events.EnvRegistryRef]; ref != "" {
		s.reg.push(ref)
		return buildkitefake.StatePassed
	}
	h := s.byToken[b.Env[events.EnvTargetHost]]
	if h == nil || h.agent.Load() == nil {
		return buildkitefake.StateFailed
	}
	var err error
	if job := s.pubs.take(b.Number); job != nil {
		err = job.wait(s.runCtx())
	} else {
		err = s.publishImage(s.runCtx(), h, b)
	}
	if err != nil {
		s.opts.log.Warn("publish-image failed: the build fails", "host", h.name, "build", b.Number, "err", err)
		return buildkitefake.StateFailed
	}
	return buildkitefake.StatePassed
}

func (s *Sim) publishImage(ctx context.Context, h *simHost, b buildkitefake.Build) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := h.agent.Load().PublishImage(ctx, tmpName(b), b.Env[events.EnvImage])
	return err
}

// onBuild plays the pinned host's side of a host build: the temporary VM
// appears when the build starts running, its publish-image starts when the
// build is due to end, and the VM goes if the build fails.
func (s *Sim) onBuild(b buildkitefake.Build) {
	h := s.byToken[b.Env[events.EnvTargetHost]]
	if h == nil {
		return
	}
	switch b.State {
	case buildkitefake.StateRunning:
		h.fake.Add(events.VM{Name: tmpName(b), DiskGB: 80, SizeGB: 55})
		if h.agent.Load() != nil && !s.chaos.dooms(b) {
			s.pubs.start(s.runCtx(), b.Number, b.StartedAt.Add(s.tm.Build), func(ctx context.Context) error { return s.publishImage(ctx, h, b) })
		}
	case buildkitefake.StateFailed, buildkitefake.StateCanceled:
		if job := s.pubs.take(b.Number); job != nil {
			job.cancel()
		}
		if h.fake.Has(tmpName(b)) {
			_ = h.fake.Delete(context.WithoutCancel(s.runCtx()), tmpName(b))
		}
	}
}

// publishes are the host builds' last step, each run on its own goroutine
// when its build is due to end, as each host runs its own: the fake
// Buildkite decides outcomes one build after the other under its lock, and a
// thousand builds ending together would otherwise publish one at a time.
// outcome collects the result.
type publishes struct {
	mu   sync.Mutex
	jobs map[int]*publishJob // by build number
}

type publishJob struct {
	done   chan struct{}
	err    error
	cancel context.CancelFunc
}

// start runs fn at at (wall clock), or not at all if ctx ends first.
func (p *publishes) start(ctx context.Context, number int, at time.Time, fn func(context.Context) error) {
	ctx, cancel := context.WithCancel(ctx)
	job := &publishJob{done: make(chan struct{}), cancel: cancel}
	p.mu.Lock()
	if p.jobs == nil {
		p.jobs = map[int]*publishJob{}
	}
	p.jobs[number] = job
	p.mu.Unlock()
	go func() {
		defer close(job.done)
		t := time.NewTimer(time.Until(at))
		defer t.Stop()
		select {
		case <-ctx.Done():
			job.err = ctx.Err()
			return
		case <-t.C:
		}
		job.err = fn(ctx)
	}()
}

// take removes and returns the build's job (nil if none).
func (p *publishes) take(number int) *publishJob {
	p.mu.Lock()
	defer p.mu.Unlock()
	job := p.jobs[number]
	delete(p.jobs, number)
	return job
}

// wait returns the job's result once it ran, or ctx's error.
func (j *publishJob) wait(ctx context.Context) error {
	defer j.cancel()
	select {
	case <-j.done:
		return j.err
	case <-ctx.Done():
		return ctx.Err()
	}
}
