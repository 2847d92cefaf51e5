package pulls

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/backoff"
	"github.com/vmfleet/vmfleet/orchestrator/hostcmd"
)

// Want is a host that should pull an image pushed to the registry.
type Want struct {
	Host, Image, Ref string
	// Boot and Seq are of the health report that asked for the pull.
	Boot string
	Seq  uint64
}

// Deps is what the Manager needs of the orchestrator core.
type Deps struct {
	Now    func() time.Time
	Log    *slog.Logger
	Reg    prometheus.Registerer
	Client hostcmd.Client // how pull commands go out
	// Current is a host's latest report as the core holds it ("" and 0:
	// none).
	Current func(host string) (boot string, seq uint64)
	// Wake asks for a reconcile pass: a pull finished.
	Wake func()
}

// check names the check an agent made right after a pull, as its reply
// reports it: the host's boot id and that check's sequence number. Zero when
// the reply carried no health.
type check struct {
	boot string
	seq  uint64
}

// sender sends one pull command and waits for the agent's reply; on
// success it returns the check the agent made right after the pull.
type sender func(ctx context.Context, host string, req events.PullRequest) (check, error)

// Manager sends pull commands (a hostcmd.Dispatcher keyed by host and
// image, grouped by host): at most Concurrency in flight fleet-wide and
// PerHost to one host, backing off per host and image after a failure.
// After a pull succeeded, a report after the one doneAfter names is needed
// before pulling again: health events reach the orchestrator through the
// stream, after the reply, and one the agent published while pulling (a
// heartbeat, the other release's pull) still says the image is missing.
type Manager struct {
	*hostcmd.Dispatcher[Want, check]
	cfg   Config
	deps  Deps
	send  sender
	total *prometheus.CounterVec
}

// New makes the Manager and registers its metrics on deps.Reg.
func New(cfg Config, deps Deps) (*Manager, error) {
	const ns, sub = "vmfleet", "orchestrator"
	p := &Manager{cfg: cfg, deps: deps, total: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
		Name: "pulls_total", Help: "Pull commands finished, by result (ok, failed)."}, []string{"result"})}
	p.send = p.sendVia
	log := deps.Log
	p.Dispatcher = hostcmd.New(hostcmd.Verb[Want, check]{
		Cap:      cfg.Concurrency,
		Backoff:  func(n int) time.Duration { return backoff.Exponential(cfg.BackoffBase, cfg.BackoffMax, n) },
		Now:      deps.Now,
		Key:      func(w Want) string { return key(w.Host, w.Image) },
		Group:    func(w Want) string { return w.Host },
		GroupCap: cfg.PerHost,
		From:     func(w Want) hostcmd.Report { return hostcmd.Report{Boot: w.Boot, Seq: w.Seq} },
		Send: func(ctx context.Context, w Want) (check, error) {
			log.Info("pulling image", "host", w.Host, "image", w.Image, "source", w.Ref)
			return p.send(ctx, w.Host, events.PullRequest{Source: w.Ref, Name: w.Image})
		},
		Finish: func(w Want, after check, err error) hostcmd.Outcome {
			if err != nil {
				return hostcmd.Outcome{Failure: cmp.Or(err.Error(), "pull failed")}
			}
			boot, seq := deps.Current(w.Host)
			doneBoot, doneSeq := doneAfter(w, boot, seq, after)
			return hostcmd.Outcome{Wait: hostcmd.After(hostcmd.Report{Boot: doneBoot, Seq: doneSeq}), SetWait: true}
		},
		Done: func(w Want, _ check, err error, _ hostcmd.Outcome, retryAt time.Time) {
			if err != nil && !errors.Is(err, context.Canceled) {
				log.Warn("pull failed", "host", w.Host, "image", w.Image, "err", err, "retry_at", retryAt)
			}
			result := "ok"
			if err != nil {
				result = "failed"
			}
			p.total.WithLabelValues(result).Inc()
			deps.Wake()
		},
	})
	inFlight := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
		Name: "pulls_in_flight", Help: "Pull commands awaiting the agent's reply."}, func() float64 { return float64(p.InFlight()) })
	for _, c := range []prometheus.Collector{p.total, inFlight} {
		if err := deps.Reg.Register(c); err != nil {
			return nil, fmt.Errorf("pull metrics: %w", err)
		}
	}
	p.total.WithLabelValues("ok") // both results exported from the start, at zero
	p.total.WithLabelValues("failed")
	return p, nil
}

// key is the dispatcher's key of a host's pull of an image.
func key(host, image string) string { return host + "\x00" + image }

// HostImage names one image on one host.
type HostImage struct{ Host, Image string }

// InFlightPairs is the set of (host, image) whose pull command awaits the
// agent's reply.
func (p *Manager) InFlightPairs() map[HostImage]bool {
	out := map[HostImage]bool{}
	for k := range p.InFlightKeys() {
		host, image, _ := strings.Cut(k, "\x00")
		out[HostImage{host, image}] = true
	}
	return out
}

// doneAfter is the last report that may still say the pulled image is
// missing: the agent's check right after the pull when its reply names one
// (on the boot the pull was asked of), else the latest report seen when the
// reply came (an agent whose reply carries no health).
func doneAfter(w Want, boot string, seq uint64, after check) (string, uint64) {
	switch {
	case after.boot != "" && (after.boot != w.Boot || after.seq >= w.Seq):
		return after.boot, after.seq
	case boot == w.Boot && seq > w.Seq:
		return w.Boot, seq
	}
	return w.Boot, w.Seq
}

// sendVia sends a pull command with the Client and waits for its reply. On
// success it returns the check the agent made right after pulling.
func (p *Manager) sendVia(ctx context.Context, host string, req events.PullRequest) (check, error) {
	rep, err := p.deps.Client.Send(ctx, hostcmd.Command{Verb: events.VerbPull, Host: host, Name: "pull " + req.Name,
		Req: req, Timeout: p.cfg.Timeout})
	if err != nil || rep.Health == nil {
		return check{}, err
	}
	return check{boot: rep.Health.BootID, seq: rep.Health.Seq}, nil
}

// Pending is, by host and image, every pull that waits for a free slot
// under pulls.max_concurrent or, with Group the host, under
// pulls.max_per_host (as of the last pass), or backs off after a failure
// at now (hostcmd.Dispatcher.Pending). Behind is the image of the host's
// pull in flight.
func (p *Manager) Pending(now time.Time) map[HostImage]hostcmd.Pending {
	all := p.Dispatcher.Pending(now)
	out := make(map[HostImage]hostcmd.Pending, len(all))
	for k, v := range all {
		host, image, _ := strings.Cut(k, "\x00")
		if v.Behind != "" {
			_, v.Behind, _ = strings.Cut(v.Behind, "\x00")
		}
		out[HostImage{host, image}] = v
	}
	return out
}

// Order puts the wants of hosts with more pulls to do first, keeping the
// pass's order otherwise. A host pulls one image at a time
// (Config.PerHost), so its pulls form a chain; handing a freed slot to the
// host with the longest chain left (the longest-first rule) ends the last
// host soonest, where the pass's own order lets the first hosts take their
// second pull while others wait for their first, and the fleet then waits
// a whole pull for the last of them.
func Order(ws []Want) {
	if len(ws) < 2 {
		return
	}
	left := make(map[string]int, len(ws))
	for _, w := range ws {
		left[w.Host]++
	}
	slices.SortStableFunc(ws, func(a, b Want) int { return cmp.Compare(left[b.Host], left[a.Host]) })
}
