package fleetsim

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
)

// rawConsumer is the raw phase's durable consumer.
const rawConsumer = "bench-raw"

// rawPhase measures the path the orchestrator's ingest rides on, without
// vmfleet: the orchestrator is stopped and its consumer deleted, then the
// flood phase runs again (the same publisher, events and flow control, into
// the same stream) against one consumer made as the orchestrator makes its
// own (filter, deliver and ack policies, pull batch) whose callback only
// counts. Run it last: the orchestrator does not come back.
func (b *ingestBench) rawPhase(ctx context.Context) (IngestPhase, error) {
	b.stopOrchestrator()
	js, err := jetstream.New(b.w.Conn)
	if err != nil {
		return IngestPhase{}, err
	}
	if err := js.DeleteConsumer(ctx, events.StreamName, orchestratorConsumer); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return IngestPhase{}, fmt.Errorf("raw: delete the orchestrator's consumer: %w", err)
	}
	cons, err := js.CreateConsumer(ctx, events.StreamName, jetstream.ConsumerConfig{
		Durable:           rawConsumer,
		FilterSubject:     b.subj.Prefix + ".host.>",
		DeliverPolicy:     jetstream.DeliverLastPerSubjectPolicy,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: time.Hour,
	})
	if err != nil {
		return IngestPhase{}, fmt.Errorf("raw: create consumer: %w", err)
	}
	// Deliver-last-per-subject first replays every host's latest event:
	// wait until they are in, then count from there.
	var n atomic.Int64
	cc, err := cons.Consume(func(jetstream.Msg) { n.Add(1) }, jetstream.PullMaxMessages(2000))
	if err != nil {
		return IngestPhase{}, fmt.Errorf("raw: consume: %w", err)
	}
	defer func() {
		cc.Stop()
		<-cc.Closed()
	}()
	pending := int64(cons.CachedInfo().NumPending)
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	err = waitFor(wctx, func() bool { return n.Load() >= pending })
	cancel()
	if err != nil {
		return IngestPhase{}, fmt.Errorf("raw: replay: %w", err)
	}
	b.count = func() int { return int(n.Load()) }
	return b.phase(ctx, "raw", 0)
}

// stopOrchestrator stops the orchestrator and waits for it.
func (b *ingestBench) stopOrchestrator() {
	if b.stop != nil {
		b.stop()
		<-b.done
		b.stop, b.done = nil, nil
	}
	b.o = nil
}
