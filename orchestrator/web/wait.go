package web

import (
	"fmt"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/api"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
	"github.com/vmfleet/vmfleet/orchestrator/hostcmd"
	"github.com/vmfleet/vmfleet/orchestrator/pulls"
)

// queues is what says why a missing image has nothing in flight: the
// builds the caps or the rate limit hold back, the pulls waiting or
// backing off, as of now.
type queues struct {
	now    time.Time
	builds map[string]builds.Queued
	pulls  map[pulls.HostImage]hostcmd.Pending
}

func (s *Server) queues() queues {
	return queues{now: s.o.Now(), builds: s.o.BuildQueue(), pulls: s.o.PullsPending()}
}

// explain sets c.Wait, and c.State to queued when a cap holds its build or
// pull back: c is a cell whose image is missing with nothing in flight, rec
// its build record (nil: none).
func (q *queues) explain(host string, c *api.Cell, rec *api.Record) {
	if p, ok := q.pulls[pulls.HostImage{Host: host, Image: c.Image}]; ok {
		c.Wait = pullWait(p)
		if p.Queued {
			c.State = api.CellQueued
		}
		return
	}
	for _, key := range []string{builds.RecordKey(c.Image, host), builds.RecordKey(c.Image, "")} {
		if b, ok := q.builds[key]; ok {
			c.State, c.Wait = api.CellQueued, buildQueued(b)
			return
		}
	}
	if rec != nil && (rec.State == events.BuildFailed || rec.State == events.BuildCanceled) && q.now.Before(rec.NextAttempt) {
		c.Wait = &api.Wait{Kind: api.WaitBackoff, What: "build", Key: rec.Key, Until: rec.NextAttempt, Failures: rec.Failures(), Error: rec.Error,
			Text: fmt.Sprintf("build %s %d times%s; next attempt at %s", rec.State, rec.Failures(), last(rec.Error), stamp(rec.NextAttempt))}
	}
}

func buildQueued(b builds.Queued) *api.Wait {
	w := &api.Wait{Kind: api.WaitQueued, What: "build", Key: b.Key, Cap: b.Cap, Limit: b.Limit, Position: b.Position, Of: b.Of, Since: b.Since, Until: b.Until}
	if b.Cap == builds.CapRateLimit {
		w.Text = fmt.Sprintf("build held back by Buildkite's rate limit until %s", stamp(b.Until))
		return w
	}
	scope := ""
	if b.Cap == builds.CapMaxPerHost {
		scope = " on " + b.Host
	}
	w.Text = fmt.Sprintf("build queued behind %s (%d live%s): %d of %d waiting, since %s", b.Cap, b.Limit, scope, b.Position, b.Of, stamp(b.Since))
	return w
}

func pullWait(p hostcmd.Pending) *api.Wait {
	switch {
	case p.Queued && p.Group != "":
		behind := "the host's other pull"
		if p.Behind != "" {
			behind = "the host's pull of " + p.Behind
		}
		return &api.Wait{Kind: api.WaitQueued, What: "pull", Cap: "pulls.max_per_host", Limit: p.Cap, Position: p.Position, Of: p.Of, Since: p.Since,
			Behind: p.Behind, Text: fmt.Sprintf("pull waits for %s (pulls.max_per_host: %d in flight on a host): %d of %d waiting, since %s",
				behind, p.Cap, p.Position, p.Of, stamp(p.Since))}
	case p.Queued:
		return &api.Wait{Kind: api.WaitQueued, What: "pull", Cap: "pulls.max_concurrent", Limit: p.Cap, Position: p.Position, Of: p.Of, Since: p.Since,
			Text: fmt.Sprintf("pull queued behind pulls.max_concurrent (%d in flight): %d of %d waiting, since %s", p.Cap, p.Position, p.Of, stamp(p.Since))}
	}
	return &api.Wait{Kind: api.WaitBackoff, What: "pull", Until: p.NextTry, Failures: p.Failures, Error: p.Err,
		Text: fmt.Sprintf("pull failed %d times%s; next at %s", p.Failures, last(p.Err), stamp(p.NextTry))}
}

// blockedWait is why a blocked key builds nothing more.
func blockedWait(rec *api.Record) *api.Wait {
	return &api.Wait{Kind: api.WaitBlocked, What: "build", Key: rec.Key, Failures: rec.Failures(), Error: rec.Error,
		Text: fmt.Sprintf("blocked after %d failed builds%s: vmfleet build retry %s", rec.Failures(), last(rec.Error), rec.Key)}
}

func last(err string) string {
	if err == "" {
		return ""
	}
	return " (last: " + err + ")"
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func sameWait(a, b *api.Wait) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
