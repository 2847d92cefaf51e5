package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/sim/buildkitefake"
)

// proxyCreateFailures puts a proxy in front of the fake Buildkite that lets
// the next n creates through and answers 502 anyway: the build exists, the
// orchestrator cannot know (the fake alone cannot fail after the fact). It
// returns how many it answered so.
func (w *world) proxyCreateFailures(n int64) *atomic.Int64 {
	target, _ := url.Parse(w.bk.URL())
	var left, done atomic.Int64
	left.Store(n)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method == http.MethodPost && strings.HasSuffix(resp.Request.URL.Path, "/builds") && left.Add(-1) >= 0 {
			done.Add(1)
			_ = resp.Body.Close()
			resp.StatusCode, resp.Status = http.StatusBadGateway, "502 Bad Gateway"
			resp.Body = io.NopCloser(strings.NewReader("<html><body>502 Bad Gateway</body></html>"))
			resp.Header.Set("Content-Type", "text/html")
			resp.Header.Del("Content-Length")
			resp.ContentLength = -1
		}
		return nil
	}
	srv := httptest.NewServer(rp)
	w.t.Cleanup(srv.Close)
	w.bkURL = srv.URL + "/"
	return &done
}

// TestBuildkiteOutage: Buildkite answers 429s (with RateLimit-Reset), 500s,
// and 502s after creating, and every webhook is lost. The orchestrator
// never creates a second build for a key, its API never stops answering,
// and every host converges once Buildkite behaves (polling stands in for
// the webhooks).
func TestBuildkiteOutage(t *testing.T) {
	n := startNATS(t)
	w := newWorld(t, []string{n.url()}, buildkitefake.WithTimings(500*time.Millisecond, 500*time.Millisecond))
	after502 := w.proxyCreateFailures(2)
	w.bk.AddFault(buildkitefake.Fault{Status: http.StatusTooManyRequests, Reset: 2 * time.Second, Count: 3})
	w.bk.AddFault(buildkitefake.Fault{Status: http.StatusInternalServerError, Count: 6})
	w.bk.DropWebhooks(1000)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go w.bk.Run(ctx, 100*time.Millisecond)

	a := w.startOrch("a")
	waitFor(t, "a leads", 20*time.Second, a.leads)
	start := time.Now()
	var hosts []string
	for _, name := range []string{"mac-0", "mac-1", "mac-2"} {
		hosts = append(hosts, w.startAgent(name).host)
	}
	// The API answers all along: no call blocks on Buildkite.
	var slowest time.Duration
	waitFor(t, "every host ready", 60*time.Second, func() bool {
		t0 := time.Now()
		_, ok := a.readyz()
		slowest = max(slowest, time.Since(t0))
		if !ok {
			t.Fatalf("/readyz failed during the outage")
		}
		return allReady(a, hosts...)
	})
	faults := w.bk.RequestCount("", "", http.StatusTooManyRequests) + w.bk.RequestCount("", "", http.StatusInternalServerError) + int(after502.Load())
	t.Logf("FIGURE Buildkite outage: %d faults (429: %d, 500: %d, 502 after create: %d), %d webhooks lost; converged in %s; slowest /readyz %s",
		faults, w.bk.RequestCount("", "", http.StatusTooManyRequests), w.bk.RequestCount("", "", http.StatusInternalServerError),
		after502.Load(), dropped(w.bk), time.Since(start).Round(time.Millisecond), slowest.Round(time.Millisecond))
	if slowest > 2*time.Second {
		t.Errorf("Got(slowest /readyz) = %s, want under 2 s (no call waits on Buildkite)", slowest)
	}
	if after502.Load() != 2 || w.bk.RequestCount("", "", http.StatusTooManyRequests) != 3 {
		t.Errorf("Got(faults served) = 502: %d, 429: %d, want 2 and 3", after502.Load(), w.bk.RequestCount("", "", http.StatusTooManyRequests))
	}
	if got := w.noDuplicates(); got != len(hosts) {
		t.Errorf("Got(builds created) = %d, want %d", got, len(hosts))
	}
	// With every webhook lost, polling brings the records to their outcome.
	took := waitFor(t, "every record passed", 20*time.Second, func() bool {
		recs := a.builds()
		for _, h := range hosts {
			if recs[hostKey(h)].State != events.BuildPassed {
				return false
			}
		}
		return true
	})
	t.Logf("FIGURE Buildkite outage: records passed %s after the hosts were ready (polling, no webhook)", took.Round(time.Millisecond))
}

// dropped counts the webhooks the fake dropped.
func dropped(s *buildkitefake.Server) int {
	n := 0
	for _, d := range s.Deliveries() {
		if d.Dropped {
			n++
		}
	}
	return n
}
