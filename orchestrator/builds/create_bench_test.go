package builds

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/internal/bus/bustest"
	"github.com/vmfleet/vmfleet/internal/sim/buildkitefake"
	"github.com/vmfleet/vmfleet/internal/testlog"
	"github.com/vmfleet/vmfleet/orchestrator/buildkite"
)

// createBench is a build manager on the vmfleet_builds bucket of an
// embedded nats-server and a buildkite.Client on the fake Buildkite API: the
// path of a build create, record writes and HTTP included.
type createBench struct {
	m     *Manager
	bk    *buildkitefake.Server
	round atomic.Int64
}

func newCreateBench(b *testing.B, transport http.RoundTripper) *createBench {
	b.Helper()
	ctx := b.Context()
	ns := bustest.Server(b, "")
	js, err := jetstream.New(bustest.Conn(b, ns))
	if err != nil {
		b.Fatal(err)
	}
	bks, err := bus.EnsureBuckets(ctx, js, 1, 15*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	// Builds stay scheduled: no state changes while the benchmark runs.
	fake, err := buildkitefake.New(ctx, buildkitefake.WithToken("t"), buildkitefake.WithPipelines("acme", "vm"),
		buildkitefake.WithTimings(time.Hour, time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(fake.Close)
	client, err := buildkite.New(buildkite.Config{APIURL: fake.URL(), Token: "t", Org: "acme", Pipeline: "vm", Timeout: 10 * time.Second, Transport: transport})
	if err != nil {
		b.Fatal(err)
	}
	cfg := Config{MaxBuilds: 1 << 20, MaxBuildsPerHost: 1, MaxAttempts: 5, RequestTimeout: 10 * time.Second, DoubtDelay: time.Minute}
	m := New(cfg, testlog.New(b, slog.LevelWarn), time.Now, client, kvStore{kv: bks.Builds})
	return &createBench{m: m, bk: fake}
}

// wants is one build per host of a new image, as after a bootstrap bump in
// host mode; each round's hosts are new, so the per-host cap lets them all
// through while the earlier rounds' builds stay live.
func (c *createBench) wants(hosts int) []Want {
	round := c.round.Add(1)
	out := make([]Want, hosts)
	for i := range out {
		w := Want{Release: "14", Host: fmt.Sprintf("mac-%d-%04d", round, i), Bun: "1.2.16", Bootstrap: fmt.Sprintf("3.%d", round)}
		w.Image = fmt.Sprintf("bun-build-macos-14-1.2.16-bootstrap-3.%d", round)
		w.Key = RecordKey(w.Image, w.Host)
		out[i] = w
	}
	return out
}

// BenchmarkCreateBuilds creates the builds of 1,000 hosts at once (one
// ensure, then every record written, every build created, every number
// recorded): `pooled` is NewBuildkiteClient's own transport, `default-idle`
// a clone of http.DefaultTransport (2 idle connections per host).
func BenchmarkCreateBuilds(b *testing.B) {
	const hosts = 1000
	for _, bm := range []struct {
		name      string
		transport func() http.RoundTripper
	}{
		{"pooled", func() http.RoundTripper { return nil }},
		{"default-idle", func() http.RoundTripper { return http.DefaultTransport.(*http.Transport).Clone() }},
	} {
		b.Run(bm.name, func(b *testing.B) {
			c := newCreateBench(b, bm.transport())
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				wants := c.wants(hosts)
				b.StartTimer()
				c.m.Ensure(ctx, wants)
				c.m.Wait()
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/hosts/1e3, "µs/build")
			last := c.m.Record(RecordKey(fmt.Sprintf("bun-build-macos-14-1.2.16-bootstrap-3.%d", c.round.Load()), fmt.Sprintf("mac-%d-0999", c.round.Load())))
			if last == nil || last.Number == 0 || last.State != events.BuildScheduled {
				b.Fatalf("Got(last record) = %+v, want a scheduled build", last)
			}
		})
	}
}
