package fleetsim

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator"
)

// seqBase is the first sequence number of the bench's events: ten digits,
// so the next ones patch into the encoded template in place.
const seqBase = 1_000_000_000

// hostEvent is one host's encoded health event with its sequence number
// patchable in place, so publishing costs no JSON encoding.
type hostEvent struct {
	h       events.HostHealth
	subject string
	data    []byte
	at      int // offset of the sequence number's ten digits
	seq     uint64
}

func makeHostEvents(cfg IngestConfig, spec events.ImageSpec, subj events.Subjects) []hostEvent {
	out := make([]hostEvent, cfg.Hosts)
	for i := range out {
		name := hostName(i, cfg.Hosts)
		h := events.HostHealth{Host: name, Hostname: name + ".ci.example.com", Agent: name, BootID: "bench", Seq: seqBase,
			CheckedAt: time.Now().UTC(), HeartbeatSeconds: 3600, TartVersion: "2.35.0", Ready: true}
		for _, r := range spec.Releases {
			img := spec.ImageName(r)
			h.Releases = append(h.Releases, events.ReleaseStatus{Release: r, ExpectedImage: img, Ready: true, Reason: events.ReasonReady, Bun: spec.BunVersion, Bootstrap: spec.BootstrapVersion})
			h.VMs = append(h.VMs, events.VM{Name: img, Source: "local", State: events.VMStopped, DiskGB: 80, SizeGB: 55})
		}
		for k := len(h.VMs); k < cfg.VMs; k++ {
			h.VMs = append(h.VMs, events.VM{Name: fmt.Sprintf("ci-job-%d", k), Source: "local", State: events.VMStopped, DiskGB: 80, SizeGB: 40})
		}
		h.Disk = &events.Disk{Path: "/Users/ci/.tart", FreeBytes: 400 << 30, TotalBytes: 1 << 40}
		data, _ := events.Encode(events.TypeHostHealth, "/vmfleet/agent/"+name, name, "", time.Now(), h)
		at := bytes.Index(data, []byte(`"seq":`+strconv.Itoa(seqBase))) + len(`"seq":`)
		out[i] = hostEvent{h: h, subject: subj.Health(name), data: data, at: at, seq: seqBase}
	}
	return out
}

// next returns the host's next event: the template with the next sequence
// number or, when sampled, a fresh encoding carrying the publish time in
// checked_at.
func (e *hostEvent) next(buf []byte, sampled bool) ([]byte, time.Time) {
	e.seq++
	if sampled {
		h := e.h
		h.Seq, h.CheckedAt = e.seq, time.Now().UTC()
		data, _ := events.Encode(events.TypeHostHealth, "/vmfleet/agent/"+h.Host, h.Host, "", h.CheckedAt, h)
		return data, h.CheckedAt
	}
	buf = append(buf[:0], e.data[:e.at]...)
	buf = strconv.AppendUint(buf, e.seq, 10)
	return append(buf, e.data[e.at+10:]...), time.Time{}
}

// seed publishes one event per host and waits until the orchestrator knows them all.
func (b *ingestBench) seed(ctx context.Context) error {
	for i := range b.events {
		data, _ := b.events[i].next(nil, false)
		if _, err := b.js.PublishAsync(b.events[i].subject, data, jetstream.WithStallWait(time.Minute)); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	select {
	case <-b.js.PublishAsyncComplete():
	case <-ctx.Done():
		return ctx.Err()
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return waitFor(wctx, func() bool { return b.received() >= len(b.events) })
}

// phase publishes for the configured duration (paced at rate, or flooding
// when rate is 0), waits until the consumer (the orchestrator, or the raw
// phase's counter) received it all, and measures. Latency is sampled only
// from the orchestrator.
func (b *ingestBench) phase(ctx context.Context, name string, rate int) (IngestPhase, error) {
	p := IngestPhase{Name: name, TargetRate: rate}
	recv0, cpu0 := b.count(), cpuSeconds()
	// The flood's latencies are hundreds of milliseconds (its window of
	// events ahead): polling every millisecond loses nothing there, and
	// leaves the orchestrator the CPU that ten thousand wake-ups a second
	// would take.
	sm := &sampler{o: b.o, every: 100 * time.Microsecond}
	if rate == 0 {
		sm.every = time.Millisecond
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	if b.o != nil {
		go func() { defer close(done); sm.run(sctx) }()
	} else {
		close(done)
	}
	start := time.Now()
	var err error
	if rate > 0 {
		p.Published, err = b.publishPaced(ctx, rate, b.cfg.Duration, sm)
	} else {
		p.Published, err = b.publishFlood(ctx, start.Add(b.cfg.Duration), sm)
	}
	if err == nil {
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		err = waitFor(wctx, func() bool { return b.count()-recv0 >= p.Published })
		cancel()
	}
	p.Elapsed = Seconds(time.Since(start))
	p.Received = b.count() - recv0
	// Let the last samples land, then stop sampling.
	if b.o != nil {
		_ = waitFor(ctx, func() bool { return sm.pendingCount() == 0 || time.Since(start) > b.cfg.Duration+5*time.Second })
	}
	stop()
	<-done
	p.EventsPerSec = float64(p.Received) / p.Elapsed.D().Seconds()
	p.Samples, p.P50, p.P99, p.Max = sm.stats()
	p.CPUSeconds = cpuSeconds() - cpu0
	p.PeakRSSBytes = peakRSS()
	p.HeapBytes = heapInUse()
	return p, err
}

// publishPaced publishes rate events per second for the phase as agents
// do: core NATS, with Nats-Msg-Id; about a thousand a second are sampled.
// A publisher starved of CPU catches up, so the count is always rate ×
// the phase's duration.
func (b *ingestBench) publishPaced(ctx context.Context, rate int, d time.Duration, sm *sampler) (int, error) {
	every := max(1, rate/1000)
	start := time.Now()
	total := int(int64(rate) * int64(d) / int64(time.Second))
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	n, i := 0, 0
	var buf []byte
	for n < total {
		due := min(total, int(float64(rate)*time.Since(start).Seconds()))
		for ; n < due; n++ {
			e := &b.events[i]
			i = (i + 1) % len(b.events)
			data, at := e.next(buf, n%every == 0)
			msg := &nats.Msg{Subject: e.subject, Data: data, Header: nats.Header{}}
			msg.Header.Set(nats.MsgIdHdr, e.h.Host+"/bench/"+strconv.FormatUint(e.seq, 10))
			if err := b.nc.PublishMsg(msg); err != nil {
				return n, err
			}
			if !at.IsZero() {
				sm.add(e.h.Host, e.seq, at)
			} else {
				buf = data
			}
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-t.C:
		}
	}
	return n, b.nc.Flush()
}

// Flood flow control: the publisher stays at most floodWindow events ahead
// of what the orchestrator received, checking every floodChunk events.
const (
	floodWindow = 20_000
	floodChunk  = 1_000
)

// publishFlood publishes as fast as the orchestrator takes the events in:
// core NATS publishes, as agents make them, but without Nats-Msg-Id (at this
// rate the server's duplicate window would hold millions of ids); at most
// floodWindow events ahead of the orchestrator, so the figure is the
// ingest's rate, not the server's buffering. One event in 500 is sampled.
func (b *ingestBench) publishFlood(ctx context.Context, until time.Time, sm *sampler) (int, error) {
	recv0 := b.count()
	n, i := 0, 0
	var buf []byte
	for ; time.Now().Before(until); n++ {
		if n%floodChunk == 0 {
			if err := b.waitBehind(ctx, recv0+n-floodWindow); err != nil {
				return n, err
			}
		}
		e := &b.events[i]
		i = (i + 1) % len(b.events)
		data, at := e.next(buf, n%500 == 0)
		if err := b.nc.Publish(e.subject, data); err != nil {
			return n, err
		}
		if !at.IsZero() {
			sm.add(e.h.Host, e.seq, at)
		} else {
			buf = data
		}
	}
	return n, b.nc.Flush()
}

// waitBehind waits until the consumer received at least want events.
func (b *ingestBench) waitBehind(ctx context.Context, want int) error {
	for b.count() < want {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Microsecond):
		}
	}
	return nil
}

// sampler polls the orchestrator's state for sampled events and records
// how long each took to show. It polls HostSeq, a map lookup: polling Host
// (the host's whole view and prune plan) cost a fifth of the bench's CPU
// and grew with the backlog.
type sampler struct {
	o       *orchestrator.Orchestrator
	every   time.Duration // how often it polls
	mu      sync.Mutex
	pending []sample
	lat     []time.Duration
}

type sample struct {
	host string
	seq  uint64
	at   time.Time
}

func (s *sampler) add(host string, seq uint64, at time.Time) {
	s.mu.Lock()
	s.pending = append(s.pending, sample{host, seq, at})
	s.mu.Unlock()
}

func (s *sampler) pendingCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// sampleWindow is how many of the oldest pending samples the sampler polls
// at each look. At the target (1,000 samples/s, < 10 ms) fewer than a dozen
// are pending, so it never binds; behind a backlog of seconds it keeps the
// sampler from polling thousands of samples (and stealing the CPU the
// orchestrator needs): events land roughly in publish order, so a sample
// enters the window about when it lands.
const sampleWindow = 256

func (s *sampler) run(ctx context.Context) {
	var batch []sample
	for ctx.Err() == nil {
		time.Sleep(s.every)
		s.mu.Lock()
		batch = append(batch[:0], s.pending[:min(len(s.pending), sampleWindow)]...)
		s.mu.Unlock()
		done := 0
		for i, sp := range batch {
			if seq, _, ok := s.o.HostSeq(sp.host); ok && seq >= sp.seq {
				d := time.Since(sp.at)
				s.mu.Lock()
				s.lat = append(s.lat, d)
				s.mu.Unlock()
				batch[i].host = "" // landed
				done++
			}
		}
		if done == 0 {
			continue
		}
		s.mu.Lock()
		// Only the sampler removes samples, so the first len(batch) are still batch's.
		keep := s.pending[:0]
		for i, sp := range s.pending {
			if i >= len(batch) || batch[i].host != "" {
				keep = append(keep, sp)
			}
		}
		clear(s.pending[len(keep):])
		s.pending = keep
		s.mu.Unlock()
	}
}

// stats returns the sample count, p50, p99 and max.
func (s *sampler) stats() (int, Seconds, Seconds, Seconds) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.lat) == 0 {
		return 0, 0, 0, 0
	}
	l := slices.Clone(s.lat)
	slices.Sort(l)
	q := func(f float64) Seconds { return Seconds(l[min(len(l)-1, int(f*float64(len(l))))]) }
	return len(l), q(0.50), q(0.99), Seconds(l[len(l)-1])
}
