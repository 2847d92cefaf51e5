package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/sim/buildkitefake"
	simworld "github.com/vmfleet/vmfleet/internal/sim/world"
	"github.com/vmfleet/vmfleet/orchestrator/api"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

const (
	bkToken    = "e2e-bk-token"
	bkOrg      = "acme"
	bkPipeline = "build-macos-vm"
	hookSecret = "e2e-webhook-secret"
	apiToken   = "e2e-api-token"
	// leaseTTL keeps failover quick; every replica gets the same.
	leaseTTL = 2 * time.Second
)

// world is one test's fleet: NATS (one node or a cluster), the fake
// Buildkite API in the test process with its webhooks fanned out to every
// orchestrator, orchestrator and agent processes.
type world struct {
	t     *testing.T
	urls  []string
	bk    *buildkitefake.Server
	bkURL string // the fake, or a proxy in front of it

	mu     sync.Mutex
	orchs  []*orchProc
	agents map[string]*agentProc // by host token
}

func newWorld(t *testing.T, urls []string, bkOpts ...buildkitefake.Option) *world {
	t.Helper()
	w := &world{t: t, urls: urls, agents: map[string]*agentProc{}}
	// NATS runs in server processes the test starts; the world here is the
	// fake Buildkite, whose webhooks the front fans out.
	sw, err := simworld.New(t.Context(), simworld.WithoutNATS(),
		simworld.WithToken(bkToken), simworld.WithPipeline(bkOrg, bkPipeline), simworld.WithWebhooks(hookSecret),
		simworld.WithBuildkite(append([]buildkitefake.Option{
			buildkitefake.WithWebhookTimeout(2 * time.Second), buildkitefake.WithLogger(slog.New(slog.DiscardHandler)),
		}, bkOpts...)...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sw.Close)
	sw.Serve(http.HandlerFunc(w.fanOut))
	w.bk = sw.Buildkite
	w.bkURL = w.bk.URL()
	w.bk.OnStateChange(w.publishBuiltImage)
	return w
}

// fanOut delivers one Buildkite webhook to every running orchestrator (a
// follower ignores it); it answers 200 when one accepted it.
func (w *world) fanOut(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.mu.Lock()
	orchs := append([]*orchProc(nil), w.orchs...)
	w.mu.Unlock()
	status := http.StatusServiceUnavailable
	for _, o := range orchs {
		if !o.p.running() {
			continue
		}
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, o.base()+"/webhooks/buildkite", bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			continue
		}
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			status = http.StatusOK
		}
	}
	rw.WriteHeader(status)
}

// publishBuiltImage plays the build step on the pinned host: the image
// appears in its tart (as `vmfleet agent publish-image` would leave it).
func (w *world) publishBuiltImage(b buildkitefake.Build) {
	host := b.Env[events.EnvTargetHost]
	if b.State != buildkitefake.StatePassed || host == "" || len(w.bk.BuildJobs(b.Org, b.Pipeline, b.Number)) > 0 {
		return // not passed, not host mode, or a real agent's job built it
	}
	w.mu.Lock()
	a := w.agents[host]
	w.mu.Unlock()
	if a != nil {
		a.state.Add(events.VM{Name: b.Env[events.EnvImage], SizeGB: 40, DiskGB: 60})
	}
}

// orchProc is one `vmfleet orchestrator` process.
type orchProc struct {
	w    *world
	id   string
	port int
	args []string
	p    *proc
}

// startOrch starts an orchestrator replica named id against the world's
// NATS and fake Buildkite, with short timings; extra flags come last.
func (w *world) startOrch(id string, extra ...string) *orchProc {
	w.t.Helper()
	o := &orchProc{w: w, id: id, port: freePort(w.t)}
	o.args = append([]string{"orchestrator", "--log-format", "json",
		"--instance", id, "--http-addr", "127.0.0.1:" + strconv.Itoa(o.port),
		"--nats-url", strings.Join(w.urls, ","), "--lease-ttl", leaseTTL.String(), "--drain-timeout", "5s",
		"--tick", "250ms", "--default-heartbeat", "1s", "--release", "14",
		"--buildkite-org", bkOrg, "--buildkite-pipeline", bkPipeline, "--buildkite-api-url", w.bkURL,
		"--buildkite-timeout", "2s", "--poll-interval", "1s", "--doubt-delay", "1s",
		"--backoff-base", "1s", "--backoff-max", "4s", "--max-attempts", "10",
	}, extra...)
	o.start()
	w.mu.Lock()
	w.orchs = append(w.orchs, o)
	w.mu.Unlock()
	return o
}

func (o *orchProc) start() {
	_, vmfleet, _ := binaries(o.w.t)
	o.p = startProc(o.w.t, "orch-"+o.id, vmfleet, o.args, []string{
		"BUILDKITE_API_TOKEN=" + bkToken, "VMFLEET_WEBHOOK_SECRET=" + hookSecret, "VMFLEET_API_TOKEN=" + apiToken,
	})
}

// restart starts the same orchestrator again after it exited.
func (o *orchProc) restart() { o.start() }

func (o *orchProc) base() string { return "http://127.0.0.1:" + strconv.Itoa(o.port) }

// api is a client of o's API with the API token; each call has 2s.
func (o *orchProc) api() (*api.Client, context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	return api.NewClient(o.base(), apiToken), ctx, cancel
}

func (o *orchProc) readyz() (api.ReadyResponse, bool) {
	c, ctx, cancel := o.api()
	defer cancel()
	r, err := c.Ready(ctx)
	return r, err == nil
}

// leads reports whether the orchestrator is ready and says it leads.
func (o *orchProc) leads() bool {
	r, ok := o.readyz()
	return ok && r.IsLeader
}

func (o *orchProc) hosts() map[string]api.HostView {
	c, ctx, cancel := o.api()
	defer cancel()
	resp, err := c.Hosts(ctx)
	if err != nil {
		return nil
	}
	out := map[string]api.HostView{}
	for _, h := range resp.Hosts {
		out[h.Host] = h
	}
	return out
}

func (o *orchProc) builds() map[string]api.Record {
	c, ctx, cancel := o.api()
	defer cancel()
	resp, err := c.Builds(ctx)
	if err != nil {
		return nil
	}
	out := map[string]api.Record{}
	for _, r := range resp.Builds {
		out[r.Key] = r
	}
	return out
}

// agentProc is one `vmfleet agent run` process over the fake tart.
type agentProc struct {
	w     *world
	host  string // token
	state *tarttest.State
	args  []string
	env   []string
	p     *proc
}

// startAgent starts a host agent named name; it checks every second and
// sends a heartbeat every second.
func (w *world) startAgent(name string, extra ...string) *agentProc {
	w.t.Helper()
	_, _, tart := binaries(w.t)
	host, err := events.HostToken(name)
	if err != nil {
		w.t.Fatal(err)
	}
	// The agent runs tart in a process group of its own (so a tart
	// timeout kills all of it); a tart started just before the agent is
	// killed can outlive it by a moment and still write here.
	home := lingerDir(w.t)
	a := &agentProc{w: w, host: host, state: tarttest.NewState(w.t, lingerDir(w.t), "")}
	a.args = append([]string{"agent", "run", "--log-format", "json", "--host", name,
		"--nats-url", strings.Join(w.urls, ","), "--interval", "1s", "--heartbeat", "1s",
		"--state-dir", filepath.Join(home, "state"), "--release", "14", "--tart-timeout", "5s", "--pull-timeout", "3s",
	}, extra...)
	a.env = append([]string{"VMFLEET_TART=" + tart, "TART_HOME=" + filepath.Join(home, "tart")}, a.state.Env()...)
	w.mu.Lock()
	w.agents[host] = a
	w.mu.Unlock()
	a.start()
	return a
}

func (a *agentProc) start() {
	_, vmfleet, _ := binaries(a.w.t)
	a.p = startProc(a.w.t, "agent-"+a.host, vmfleet, a.args, a.env)
}

// image is the expected image of release 14 under the default spec.
func image14() string { return events.DefaultImageSpec().ImageName("14") }

// hostKey is the host-mode build key of release 14 on host.
func hostKey(host string) string { return builds.RecordKey(image14(), host) }

// allReady reports whether o sees every listed host ready.
func allReady(o *orchProc, hosts ...string) bool {
	hs := o.hosts()
	for _, h := range hosts {
		if hs[h].State != api.HostReady {
			return false
		}
	}
	return len(hosts) > 0
}

// noDuplicates fails the test if any build key ever had more than one live
// build or more than one build created.
func (w *world) noDuplicates() (builds int) {
	w.t.Helper()
	per := map[string]int{}
	for _, b := range w.bk.Builds() {
		per[b.Key()]++
	}
	for key, n := range per {
		if n != 1 || w.bk.MaxLiveCount(key) != 1 {
			w.t.Errorf("Got(builds of %s) = %d created, %d at most live, want 1 and 1", key, n, w.bk.MaxLiveCount(key))
		}
	}
	return len(w.bk.Builds())
}

func (w *world) String() string { return fmt.Sprintf("world(%v)", w.urls) }
