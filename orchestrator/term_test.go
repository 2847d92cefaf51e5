package orchestrator_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/orchestrator"
	"github.com/vmfleet/vmfleet/orchestrator/buildkite"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
	"github.com/vmfleet/vmfleet/orchestrator/lease"
	"github.com/vmfleet/vmfleet/orchestrator/web"
)

// replicaO is one orchestrator replica with its lease, in the harness's world.
type replicaO struct {
	id    string
	o     *orchestrator.Orchestrator
	web   *web.Server
	lease *lease.Lease
	stop  func()
}

// startReplica runs an orchestrator that leads only while it holds the lease.
func (h *harness) startReplica(cfg orchestrator.Config, id string, ttl time.Duration) *replicaO {
	h.t.Helper()
	client, err := buildkite.New(buildkite.Config{
		APIURL: h.bkURL, Token: bkToken, Org: bkOrg, Pipeline: bkPipeline, Timeout: 5 * time.Second, Now: h.clock.Now,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	conn, err := bus.Connect(bus.ConnConfig{URLs: []string{h.ns.ClientURL()}, Name: "orchestrator " + id, ReconnectWait: 50 * time.Millisecond}, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	js, _ := jetstream.New(conn)
	b, err := bus.EnsureBuckets(h.ctx, js, 1, ttl)
	if err != nil {
		h.t.Fatal(err)
	}
	log := testLogger(h.t, slog.LevelInfo).With("component", "orchestrator", "replica", id)
	l, err := lease.New(b.Leader, id, ttl, lease.WithLogger(log))
	if err != nil {
		h.t.Fatal(err)
	}
	cfg.Instance = id
	o, err := orchestrator.New(conn, client, cfg, orchestrator.WithClock(h.clock.Now), orchestrator.WithRegistry(prometheus.NewRegistry()),
		orchestrator.WithLogger(log), orchestrator.WithLease(l), orchestrator.WithSource("/vmfleet/orchestrator/"+id))
	if err != nil {
		h.t.Fatal(err)
	}
	srv, err := web.New(o)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	r := &replicaO{id: id, o: o, web: srv, lease: l}
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					h.t.Errorf("Run %s: %v", id, err)
				}
			case <-time.After(15 * time.Second):
				h.t.Errorf("Run %s did not return within 15s of cancel", id)
			}
			conn.Close()
		})
	}
	h.t.Cleanup(r.stop)
	h.waitFor(id+" ready", o.Ready)
	return r
}

// hooksTo sends the fake's webhooks to r's handler.
func (h *harness) hooksTo(r *replicaO) {
	handler := r.web.Handler()
	h.hookTo.Store(&handler)
}

func (h *harness) recordOn(o *orchestrator.Orchestrator, key string) (builds.Record, bool) {
	for _, r := range o.Builds() {
		if r.Key == key {
			return r, true
		}
	}
	return builds.Record{}, false
}

func TestLeaseTakeoverAdoptsLiveBuild(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	spec := testSpec("")
	cfg := h.config(spec)
	const ttl = time.Second
	a := h.startReplica(cfg, "a", ttl)
	h.waitFor("a leads", a.lease.IsLeader)
	b := h.startReplica(cfg, "b", ttl)
	h.hooksTo(a)
	agent := h.addAgents(1, "mac", spec.Images)[0]
	key := builds.RecordKey(spec.Images.ImageName("14"), agent.host)

	// a creates the build; b, following, sees the record with its number.
	h.waitFor("b sees the build", func() bool { r, ok := h.recordOn(b.o, key); return ok && r.Number != 0 })
	if b.o.Leadership().IsLeader || b.o.Leadership().Leader != "a" {
		t.Fatalf("Got(b's view) = %+v, want a leading", b.o.Leadership())
	}
	number := h.bk.Builds()[0].Number

	// a stops gracefully (hand-back): b leads at once, then adopts the live
	// build by polling it, with no webhook to help.
	h.hookTo.Store(nil)
	start := time.Now()
	a.stop()
	h.waitFor("b leads", b.lease.IsLeader)
	t.Logf("takeover after hand-back: %s", time.Since(start))
	h.bk.Step() // scheduled → running, webhook lost
	h.waitFor("b polled the running build", func() bool {
		h.clock.Add(cfg.Builds.PollInterval) // b may have polled once before the step
		r, _ := h.recordOn(b.o, key)
		return r.State == events.BuildRunning
	})
	h.hooksTo(b)
	h.bk.Step() // running → passed; the webhook reaches b; the image appears on the host
	h.waitFor("host ready", func() bool { v, ok := b.o.Host(agent.host); return ok && v.State == orchestrator.HostReady })
	h.waitFor("record passed", func() bool { r, _ := h.recordOn(b.o, key); return r.State == events.BuildPassed })
	if r, _ := h.recordOn(b.o, key); r.Number != number || r.Attempt != 1 {
		t.Errorf("Got(record) = number %d attempt %d, want the adopted build #%d, attempt 1", r.Number, r.Attempt, number)
	}
	if c, m := h.bk.CreatedCount(key), h.bk.MaxLiveCount(key); c != 1 || m != 1 {
		t.Errorf("Got(created, max live) = %d, %d, want 1, 1", c, m)
	}
}

func TestLeaseTakeoverResolvesCreateInDoubt(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	spec := testSpec("")
	cfg := h.config(spec)
	cfg.Builds.DoubtDelay = 2 * time.Second // on the harness clock, moved by hand
	const ttl = time.Second
	// The first create answers 502 after the build was made: a's create is
	// in doubt when a goes away.
	h.proxyCreateFailures(1)
	a := h.startReplica(cfg, "a", ttl)
	h.waitFor("a leads", a.lease.IsLeader)
	b := h.startReplica(cfg, "b", ttl)
	agent := h.addAgents(1, "mac", spec.Images)[0]
	key := builds.RecordKey(spec.Images.ImageName("14"), agent.host)
	h.waitFor("a's create went through", func() bool { return h.bk.CreatedCount(key) == 1 })
	h.waitFor("b sees the record in doubt", func() bool { r, ok := h.recordOn(b.o, key); return ok && r.Doubt })
	a.stop()
	h.waitFor("b leads", b.lease.IsLeader)
	h.clock.Add(3 * time.Second) // past the doubt delay: b asks Buildkite, finds a's build
	h.waitFor("b adopted a's build", func() bool {
		h.clock.Add(100 * time.Millisecond)
		r, _ := h.recordOn(b.o, key)
		return r.Number != 0
	})
	if c := h.bk.CreatedCount(key); c != 1 {
		t.Errorf("Got(created) = %d, want 1 (adopted, not created again)", c)
	}
}

func TestReadyzAndLeaderAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	cfg := h.config(testSpec(""))
	a := h.startReplica(cfg, "a", time.Second)
	h.waitFor("a leads", a.lease.IsLeader)
	b := h.startReplica(cfg, "b", time.Second)
	for _, tt := range []struct {
		r      *replicaO
		leader bool
	}{{a, true}, {b, false}} {
		srv := httptest.NewServer(tt.r.web.Handler())
		resp, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Status   string `json:"status"`
			Instance string `json:"instance"`
			IsLeader bool   `json:"is_leader"`
			Leader   string `json:"leader"`
		}
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		srv.Close()
		if err != nil || resp.StatusCode != http.StatusOK || got.Status != "ready" || got.Instance != tt.r.id || got.IsLeader != tt.leader || got.Leader != "a" {
			t.Errorf("Got(%s /readyz) = %d %+v (%v), want ready, is_leader %v, leader a", tt.r.id, resp.StatusCode, got, err, tt.leader)
		}
	}
}

// TestRunDrainIsBounded: at shutdown Run waits for a pull in flight, but no
// longer than DrainTimeout, then abandons it.
func TestRunDrainIsBounded(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	spec := testSpec("ghcr.io/acme/bun-build-macos-{release}:{bun}-bootstrap-{bootstrap}")
	cfg := h.config(spec)
	cfg.DrainTimeout = 300 * time.Millisecond
	cfg.Pulls.Timeout = time.Minute
	// A host that takes every pull and never answers.
	pulls := h.collectMsgs("vmfleet.cmd.silent-000.pull")
	h.start(cfg)
	h.publishHealth("silent-000", 1, spec.Images, false)
	h.waitFor("the registry build", func() bool { return len(h.bk.Builds()) == 1 })
	h.bk.Step()
	h.bk.Step()
	h.waitFor("the pull sent", func() bool { return len(pulls()) == 1 })
	start := time.Now()
	h.stopO()
	took := time.Since(start)
	t.Logf("Run returned %s after cancel with a pull in flight (drain timeout %s)", took, cfg.DrainTimeout)
	if took < cfg.DrainTimeout || took > cfg.DrainTimeout+2*time.Second {
		t.Errorf("Got(Run returned after) = %s, want about the drain timeout %s", took, cfg.DrainTimeout)
	}
}
