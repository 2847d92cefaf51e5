package orchestrator_test

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/internal/bus/bustest"
	"github.com/vmfleet/vmfleet/orchestrator"
)

// BenchmarkIngestNATS is ingest end to end: health events published to the
// VMFLEET stream (file storage) on an embedded nats-server and consumed by a
// running orchestrator's durable consumer; publisher, server and consumer
// share the machine's cores.
func BenchmarkIngestNATS(b *testing.B) {
	ns := bustest.Server(b, "")
	nc := bustest.Conn(b, ns)
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	subj, _ := events.NewSubjects("")
	if _, err := bus.EnsureStream(ctx, js, subj, 1); err != nil {
		b.Fatal(err)
	}
	if _, err := bus.EnsureBuckets(ctx, js, 1, 15*time.Second); err != nil {
		b.Fatal(err)
	}
	conn := bustest.Conn(b, ns)
	reg := prometheus.NewRegistry()
	o, err := orchestrator.New(conn, nil, orchestrator.Config{Spec: testSpec(""), Instance: "bench"}, orchestrator.WithRegistry(reg))
	if err != nil {
		b.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- o.Run(rctx) }()
	defer func() { cancel(); <-done }()
	for !o.Ready() {
		time.Sleep(time.Millisecond)
	}
	const hosts = 1000
	type tmpl struct {
		subject string
		data    []byte
		at      int
	}
	ts := make([]tmpl, hosts)
	for i := range ts {
		host := fmt.Sprintf("mac-%04d", i)
		h := events.HostHealth{Host: host, Agent: "bench", BootID: "boot", Seq: 1_000_000_000, CheckedAt: time.Now(), HeartbeatSeconds: 60,
			Releases: []events.ReleaseStatus{{Release: "14", ExpectedImage: "bun-build-macos-14-1.2.16-bootstrap-3.6", Ready: true, Reason: events.ReasonReady, Bun: "1.2.16", Bootstrap: "3.6"}},
			VMs:      []events.VM{{Name: "bun-build-macos-14-1.2.16-bootstrap-3.6", Source: "local", State: "stopped", DiskGB: 80, SizeGB: 40}}}
		data, _ := events.Encode(events.TypeHostHealth, "/bench/"+host, host, "", time.Now(), h)
		at := bytes.Index(data, []byte(`"seq":1000000000`)) + len(`"seq":`)
		ts[i] = tmpl{subject: subj.Health(host), data: data, at: at}
	}
	b.SetBytes(int64(len(ts[0].data)))
	b.ResetTimer()
	for i := range b.N {
		t := &ts[i%hosts]
		buf := append([]byte(nil), t.data...)
		strconv.AppendUint(buf[:t.at], uint64(1_000_000_001+i/hosts), 10)
		if _, err := js.PublishAsync(t.subject, buf, jetstream.WithStallWait(time.Minute)); err != nil {
			b.Fatal(err)
		}
	}
	for received(b, reg) < float64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func received(b *testing.B, reg *prometheus.Registry) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "vmfleet_orchestrator_events_received_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}
