package orchestrator

import (
	"bytes"
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
	"github.com/vmfleet/vmfleet/orchestrator/hosts"
)

// seqTemplate is a health event whose seq is a 10-digit number the benchmark
// overwrites in place, so every event it ingests is new.
type seqTemplate struct {
	subject string
	data    []byte
	at      int // offset of the seq digits
}

func makeTemplates(b *testing.B, subj events.Subjects, n int) []seqTemplate {
	out := make([]seqTemplate, n)
	for i := range out {
		h := health(hostName(i), "boot", 1_000_000_000, t0)
		data := encode(b, h)
		at := bytes.Index(data, []byte(`"seq":1000000000`))
		if at < 0 {
			b.Fatal("no seq in template")
		}
		out[i] = seqTemplate{subject: subj.Health(h.Host), data: data, at: at + len(`"seq":`)}
	}
	return out
}

// BenchmarkIngest is the fast path: decode, compare, store and mark dirty a
// typical health event (two releases, three VMs, ~1.3 KB), on every core.
func BenchmarkIngest(b *testing.B) {
	subj, _ := events.NewSubjects("")
	const hostsPerWorker = 1000
	tmpl := makeTemplates(b, subj, 8*hostsPerWorker)
	f, err := hosts.New(subj, hosts.Config{StaleHeartbeats: 3, DefaultHeartbeat: time.Minute}, hosts.Deps{})
	if err != nil {
		b.Fatal(err)
	}
	var workers atomic.Int64
	b.SetBytes(int64(len(tmpl[0].data)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		base := int(workers.Add(1)-1) % 8 * hostsPerWorker
		buf := make([]byte, 0, 4096)
		for i := 0; pb.Next(); i++ {
			t := &tmpl[base+i%hostsPerWorker]
			buf = append(buf[:0], t.data...)
			strconv.AppendUint(buf[:t.at], uint64(1_000_000_001+i/hostsPerWorker), 10)
			if !f.Ingest(t.subject, buf, t0) {
				b.Fatal("event rejected")
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	if n := f.TakeDirty(); len(n) == 0 {
		b.Fatal("nothing marked dirty")
	}
}

// BenchmarkReconcile10k is one full pass over 10,000 hosts in host mode: 7,000
// ready, 2,000 missing release 14 (each with its build live), 1,000 stale.
func BenchmarkReconcile10k(b *testing.B) {
	now := t0.Add(2 * time.Minute)
	bk := &fakeBK{}
	o := newTestOrchestrator(b, bk, Config{Builds: builds.Config{MaxBuilds: 100_000}}, func() time.Time { return now })
	o.log = o.log.With()
	store := o.builds.Store()
	im := testImages()
	for i := range 10_000 {
		h := health(hostName(i), "boot", 1, t0)
		seen := now
		switch {
		case i%10 < 7:
			h.Ready = true
			h.Releases[1].Ready, h.Releases[1].Reason = true, events.ReasonReady
		case i%10 < 9:
			key := builds.RecordKey(im.ImageName("14"), h.Host)
			r := &builds.Record{Key: key, Image: im.ImageName("14"), Release: "14", Host: h.Host, State: events.BuildRunning, Attempt: 1, Number: i + 1}
			r.Revision, _ = store.Create(context.Background(), r)
			o.builds.Preload([]*builds.Record{r}, now)
		default:
			seen = t0.Add(-time.Hour)
		}
		o.fleet.Ingest(o.subj.Health(h.Host), encode(b, h), seen)
	}
	ctx := context.Background()
	o.pass(ctx, true)
	o.builds.Wait()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		o.pass(ctx, true)
	}
	b.StopTimer()
	o.builds.Wait()
	if got := bk.Creates(); got != 0 {
		b.Fatalf("Got(creates) = %d, want 0: every missing image has its build", got)
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/pass")
}
