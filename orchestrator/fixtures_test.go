package orchestrator_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/vmfleet/vmfleet/events"
)

// publishHealth publishes a synthetic health event for host: release 14
// missing its image (or ready).
func (h *harness) publishHealth(host string, seq uint64, spec events.ImageSpec, ready bool) {
	h.t.Helper()
	st := events.ReleaseStatus{Release: "14", ExpectedImage: spec.ImageName("14"), Ready: ready, Reason: events.ReasonImageMissing,
		Bun: spec.BunVersion, Bootstrap: spec.BootstrapVersion}
	if ready {
		st.Reason = events.ReasonReady
	}
	hh := events.HostHealth{Host: host, Agent: "synthetic", BootID: "boot", Seq: seq, CheckedAt: h.clock.Now(),
		HeartbeatSeconds: 3600, Ready: ready, Releases: []events.ReleaseStatus{st}}
	b, err := events.Encode(events.TypeHostHealth, "/test/"+host, host, hh.MsgID(), h.clock.Now(), hh)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.nc.Publish(h.subj.Health(host), b); err != nil {
		h.t.Fatal(err)
	}
}

// collect subscribes to subject and returns the subjects of messages seen.
func (h *harness) collect(subject string) func() []string {
	h.t.Helper()
	msgs := h.collectMsgs(subject)
	return func() []string {
		var out []string
		for _, m := range msgs() {
			out = append(out, m.Subject)
		}
		return out
	}
}

// collectMsgs subscribes to subject and returns the messages seen.
func (h *harness) collectMsgs(subject string) func() []*nats.Msg {
	h.t.Helper()
	var mu sync.Mutex
	var seen []*nats.Msg
	sub, err := h.nc.Subscribe(subject, func(m *nats.Msg) {
		mu.Lock()
		seen = append(seen, m)
		mu.Unlock()
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := h.nc.Flush(); err != nil {
		h.t.Fatal(err)
	}
	return func() []*nats.Msg {
		mu.Lock()
		defer mu.Unlock()
		return append([]*nats.Msg(nil), seen...)
	}
}

// metric returns the value of a gauge or counter (first series with the labels).
func (h *harness) metric(name string, labels ...string) float64 {
	mfs, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, l := range m.GetLabel() {
					found = found || (l.GetName() == labels[i] && l.GetValue() == labels[i+1])
				}
				if !found {
					continue next
				}
			}
			switch {
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// synthetic is a set of hosts played by the test: each publishes a health
// event with release 14 missing, and answers pull like an agent would
// (publish the now-ready health, then reply OK).
type synthetic struct {
	h     *harness
	spec  events.ImageSpec
	mu    sync.Mutex
	seq   map[string]uint64
	pulls atomic.Int64
}

func (h *harness) addSynthetic(n int, prefix string, spec events.ImageSpec) *synthetic {
	h.t.Helper()
	s := &synthetic{h: h, spec: spec, seq: map[string]uint64{}}
	sub, err := h.nc.Subscribe("vmfleet.cmd.*.pull", s.serve)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { _ = sub.Unsubscribe() })
	for i := range n {
		host := fmt.Sprintf("%s-%03d", prefix, i)
		s.mu.Lock()
		s.seq[host] = 1
		s.mu.Unlock()
		h.publishHealth(host, 1, spec, false)
	}
	return s
}

func (s *synthetic) serve(m *nats.Msg) {
	p, err := s.h.subj.Parse(m.Subject)
	if err != nil {
		return
	}
	s.mu.Lock()
	seq, ok := s.seq[p.Host]
	if ok {
		seq++
		s.seq[p.Host] = seq
	}
	s.mu.Unlock()
	if !ok {
		return // a real agent's host
	}
	s.pulls.Add(1)
	s.h.publishHealth(p.Host, seq, s.spec, true)
	b, _ := events.Encode(events.TypeReply, "/test/"+p.Host, p.Host, "", s.h.clock.Now(), events.Reply{OK: true})
	_ = m.Respond(b)
}

// proxyCreateFailures puts a proxy in front of the fake that lets the next n
// creates through to the fake and then answers 502 anyway: the build exists,
// the orchestrator cannot know.
func (h *harness) proxyCreateFailures(n int) {
	h.t.Helper()
	target, _ := url.Parse(h.bk.URL())
	var left atomic.Int64
	left.Store(int64(n))
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method == http.MethodPost && strings.HasSuffix(resp.Request.URL.Path, "/builds") && left.Add(-1) >= 0 {
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
	h.t.Cleanup(srv.Close)
	h.bkURL = srv.URL + "/"
}

// retry posts an operator's retry of key with a bearer token; it returns the status.
func (h *harness) retry(key, token string) int {
	h.t.Helper()
	_, err := h.api(token).Retry(h.t.Context(), key)
	return h.status(err)
}
