package orchestrator

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/vmfleet/vmfleet/events"
)

// pullWant is a host that should pull an image pushed to the registry.
type pullWant struct {
	host, image, ref string
	// boot and seq are of the health report that asked for the pull.
	boot string
	seq  uint64
}

type pullState struct {
	inFlight bool
	failures int
	nextTry  time.Time
	// doneBoot/doneSeq: the pull succeeded; a report after this one is
	// needed before pulling again. It is the check the agent made right
	// after pulling, as its reply says: health events reach the
	// orchestrator through the stream, after the reply, and one the agent
	// published while pulling (a heartbeat, the other release's pull) still
	// says the image is missing.
	doneBoot string
	doneSeq  uint64
	gen      uint64
}

// pullSender sends one pull command and waits for the agent's reply; on
// success it returns the check the agent made right after the pull.
type pullSender func(ctx context.Context, host string, req events.PullRequest) (pullCheck, error)

// pullManager sends pull commands with a fleet-wide concurrency cap, tracks
// the ones in flight, and backs off per host and image after a failure.
type pullManager struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	send    pullSender
	current func(host string) (boot string, seq uint64)
	onDone  func(ok bool)

	mu       sync.Mutex
	states   map[string]*pullState
	inFlight int
	gen      uint64
	wg       sync.WaitGroup
}

func newPullManager(cfg Config, log *slog.Logger, now func() time.Time, send pullSender) *pullManager {
	return &pullManager{
		cfg: cfg, log: log, now: now, send: send,
		current: func(string) (string, uint64) { return "", 0 },
		onDone:  func(bool) {},
		states:  map[string]*pullState{},
	}
}

// dispatch starts pulls for wants within the cap. A full pass also forgets
// hosts that no longer need a pull.
func (p *pullManager) dispatch(ctx context.Context, wants []pullWant, full bool) {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if full {
		p.gen++
	}
	for _, w := range wants {
		k := w.host + "\x00" + w.image
		ps := p.states[k]
		if ps == nil {
			ps = &pullState{}
			p.states[k] = ps
		}
		ps.gen = p.gen
		switch {
		case ps.inFlight, now.Before(ps.nextTry),
			ps.doneBoot == w.boot && w.seq <= ps.doneSeq,
			p.inFlight >= p.cfg.PullConcurrency:
			continue
		}
		ps.inFlight = true
		p.inFlight++
		p.wg.Add(1)
		go p.run(ctx, w, ps)
	}
	if full {
		for k, ps := range p.states {
			if ps.gen != p.gen && !ps.inFlight {
				delete(p.states, k)
			}
		}
	}
}

func (p *pullManager) run(ctx context.Context, w pullWant, ps *pullState) {
	defer p.wg.Done()
	p.log.Info("pulling image", "host", w.host, "image", w.image, "source", w.ref)
	after, err := p.send(ctx, w.host, events.PullRequest{Source: w.ref, Name: w.image})
	boot, seq := p.current(w.host)
	now := p.now()
	p.mu.Lock()
	defer func() { p.onDone(err == nil) }()
	ps.inFlight = false
	p.inFlight--
	if err == nil {
		ps.failures, ps.nextTry = 0, time.Time{}
		ps.doneBoot, ps.doneSeq = doneAfter(w, boot, seq, after)
	} else {
		ps.failures++
		ps.nextTry = now.Add(backoff(p.cfg.BackoffBase, p.cfg.BackoffMax, ps.failures))
	}
	retryAt := ps.nextTry
	p.mu.Unlock()
	if err != nil && !errors.Is(err, context.Canceled) {
		p.log.Warn("pull failed", "host", w.host, "image", w.image, "err", err, "retry_at", retryAt)
	}
}

func (p *pullManager) inFlightCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inFlight
}

func (p *pullManager) wait() { p.wg.Wait() }

// doneAfter is the last report that may still say the pulled image is
// missing: the agent's check right after the pull when its reply names one
// (on the boot the pull was asked of), else the latest report seen when the
// reply came (an agent whose reply carries no health).
func doneAfter(w pullWant, boot string, seq uint64, after pullCheck) (string, uint64) {
	switch {
	case after.boot != "" && (after.boot != w.boot || after.seq >= w.seq):
		return after.boot, after.seq
	case boot == w.boot && seq > w.seq:
		return w.boot, seq
	}
	return w.boot, w.seq
}
