package orchestrator

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/backoff"
	"github.com/vmfleet/vmfleet/orchestrator/hostcmd"
)

// pullWant is a host that should pull an image pushed to the registry.
type pullWant struct {
	host, image, ref string
	// boot and seq are of the health report that asked for the pull.
	boot string
	seq  uint64
}

// pullSender sends one pull command and waits for the agent's reply; on
// success it returns the check the agent made right after the pull.
type pullSender func(ctx context.Context, host string, req events.PullRequest) (pullCheck, error)

// pullManager sends pull commands (a hostcmd.Dispatcher keyed by host and
// image): at most cfg.PullConcurrency in flight fleet-wide, backing off per
// host and image after a failure. After a pull succeeded, a report after the
// one doneAfter names is needed before pulling again: health events reach
// the orchestrator through the stream, after the reply, and one the agent
// published while pulling (a heartbeat, the other release's pull) still says
// the image is missing.
type pullManager struct {
	*hostcmd.Dispatcher[pullWant, pullCheck]
	current func(host string) (boot string, seq uint64)
	onDone  func(ok bool)
}

func newPullManager(cfg Config, log *slog.Logger, now func() time.Time, send pullSender) *pullManager {
	p := &pullManager{
		current: func(string) (string, uint64) { return "", 0 },
		onDone:  func(bool) {},
	}
	p.Dispatcher = hostcmd.New(hostcmd.Verb[pullWant, pullCheck]{
		Cap:     cfg.PullConcurrency,
		Backoff: func(n int) time.Duration { return backoff.Exponential(cfg.BackoffBase, cfg.BackoffMax, n) },
		Now:     now,
		Key:     func(w pullWant) string { return pullKey(w.host, w.image) },
		From:    func(w pullWant) hostcmd.Report { return hostcmd.Report{Boot: w.boot, Seq: w.seq} },
		Send: func(ctx context.Context, w pullWant) (pullCheck, error) {
			log.Info("pulling image", "host", w.host, "image", w.image, "source", w.ref)
			return send(ctx, w.host, events.PullRequest{Source: w.ref, Name: w.image})
		},
		Finish: func(w pullWant, after pullCheck, err error) hostcmd.Outcome {
			if err != nil {
				return hostcmd.Outcome{Failure: cmp.Or(err.Error(), "pull failed")}
			}
			boot, seq := p.current(w.host)
			doneBoot, doneSeq := doneAfter(w, boot, seq, after)
			return hostcmd.Outcome{Wait: hostcmd.After(hostcmd.Report{Boot: doneBoot, Seq: doneSeq}), SetWait: true}
		},
		Done: func(w pullWant, _ pullCheck, err error, _ hostcmd.Outcome, retryAt time.Time) {
			if err != nil && !errors.Is(err, context.Canceled) {
				log.Warn("pull failed", "host", w.host, "image", w.image, "err", err, "retry_at", retryAt)
			}
			p.onDone(err == nil)
		},
	})
	return p
}

// pullKey is the dispatcher's key of a host's pull of an image.
func pullKey(host, image string) string { return host + "\x00" + image }

// inFlightSet is the (host, image) pairs whose pull is in flight (keys
// host "\x00" image).
func (p *pullManager) inFlightSet() map[string]bool { return p.InFlightKeys() }

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
