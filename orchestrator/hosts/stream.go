package hosts

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
)

// Follow rebuilds the fleet state from the stream and follows it until ctx
// ends, with the durable consumer orchestrator-<instance>, made afresh at
// every start with deliver-last-per-subject, so the state is rebuilt from
// every host's latest event, then the same consumer keeps delivering new
// ones (across NATS reconnects too). If the consumer disappears it is made
// again. Wait waits for its ingest workers.
func (f *Fleet) Follow(ctx context.Context, js jetstream.JetStream, instance string) error {
	f.startIngest(ctx)
	for {
		err := f.consume(ctx, js, instance)
		if ctx.Err() != nil {
			return nil
		}
		f.deps.Log.Warn("health consumer stopped; making it again", "err", err)
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// Wait waits for the ingest workers Follow started to end.
func (f *Fleet) Wait() { f.workers.Wait() }

func (f *Fleet) consume(ctx context.Context, js jetstream.JetStream, instance string) error {
	name := "orchestrator-" + instance
	if err := js.DeleteConsumer(ctx, events.StreamName, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("delete consumer %s: %w", name, err)
	}
	cons, err := js.CreateConsumer(ctx, events.StreamName, jetstream.ConsumerConfig{
		Durable:     name,
		Description: "vmfleet orchestrator fleet state (" + instance + ")",
		// <prefix>.host.> rather than <prefix>.host.*.health: the server
		// matches a '>' filter markedly cheaper (BenchmarkIngestNATS: +17%);
		// anything under host.> that is not a health event is skipped.
		FilterSubject:     f.subj.Prefix + ".host.>",
		DeliverPolicy:     jetstream.DeliverLastPerSubjectPolicy,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: time.Hour,
	})
	if err != nil {
		return fmt.Errorf("create consumer %s: %w", name, err)
	}
	if cons.CachedInfo().NumPending == 0 {
		f.caughtUp.Store(true)
	}
	stopped := make(chan error, 1)
	cc, err := cons.Consume(func(m jetstream.Msg) { f.handleMsg(ctx, m) },
		jetstream.PullMaxMessages(2000),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) {
				select {
				case stopped <- err:
				default:
				}
			}
		}))
	if err != nil {
		return fmt.Errorf("consume %s: %w", name, err)
	}
	defer func() {
		cc.Stop()
		<-cc.Closed()
	}()
	f.deps.Log.Info("following host health", "consumer", name, "pending", cons.CachedInfo().NumPending)
	select {
	case <-ctx.Done():
		return nil
	case err := <-stopped:
		return err
	}
}

// inMsg is one health message on its way to an ingest worker.
type inMsg struct {
	subject string
	data    []byte
	seen    time.Time
	stored  time.Time // when NATS stored it, by the server's clock
}

// startIngest starts one ingest worker per core, each ending with ctx;
// messages are sharded by subject, so one host's events stay in order.
func (f *Fleet) startIngest(ctx context.Context) {
	f.ingestQ = make([]chan inMsg, max(1, runtime.GOMAXPROCS(0)))
	for i := range f.ingestQ {
		q := make(chan inMsg, 512)
		f.ingestQ[i] = q
		f.workers.Add(1)
		go func() {
			defer f.workers.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case m := <-q:
					// The message's data is the event's own (nats.go
					// makes it afresh): its strings may share it.
					f.ingestAt(m.subject, m.data, m.seen, m.stored, events.DecodeHealthOwned)
				}
			}
		}()
	}
}

// handleMsg is the consumer's callback: it stamps the message and hands it to
// its ingest worker. A replayed event counts as seen when NATS stored it, not
// when it was replayed.
func (f *Fleet) handleMsg(ctx context.Context, m jetstream.Msg) {
	seen := f.deps.Now()
	stored := seen
	if md, err := m.Metadata(); err == nil {
		stored = md.Timestamp
		if age := time.Since(md.Timestamp); age > 0 {
			seen = seen.Add(-age)
		}
		if md.NumPending == 0 && !f.caughtUp.Load() {
			f.caughtUp.Store(true)
			f.deps.Log.Info("fleet state rebuilt", "hosts", f.Len())
		}
	}
	subject := m.Subject()
	if !strings.HasSuffix(subject, ".health") {
		return
	}
	select {
	case f.ingestQ[fnv32(subject)%uint32(len(f.ingestQ))] <- inMsg{subject: subject, data: m.Data(), seen: seen, stored: stored}:
	case <-ctx.Done():
	}
}
