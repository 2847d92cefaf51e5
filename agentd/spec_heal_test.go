package agentd

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/internal/bus/bustest"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

// putSpec stores a spec for releases rels and returns its revision.
func putSpec(t *testing.T, kv jetstream.KeyValue, bootstrap string) uint64 {
	t.Helper()
	spec := events.Spec{Images: events.ImageSpec{Releases: []string{"14"}, BunVersion: "1.2.16", BootstrapVersion: bootstrap}, UpdatedAt: time.Now()}
	rev, err := kv.Put(context.Background(), events.SpecKey, mustJSON(t, spec))
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

// An agent that cannot watch the spec (the server's cap on consumers per
// stream is reached) still follows it, by reading it while it retries.
func TestRunFollowsSpecWithoutAWatch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	conf := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(conf, []byte("jetstream {\n  limits {\n    default_max_consumers: 1\n  }\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := bus.StartServer(bus.ServerConfig{Listen: "127.0.0.1:-1", DataDir: dir, ConfigFile: conf}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	nc := bustest.Conn(t, s)
	js, _ := jetstream.New(nc)
	b, err := bus.EnsureBuckets(context.Background(), js, 1, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// Another watcher holds the spec stream's only consumer.
	other, err := b.Spec.Watch(context.Background(), events.SpecKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Stop() })

	a := newAgent(t, slowConfig(t), tarttest.NewFake(""), WithConn(agentConn(t, s, 50*time.Millisecond)), WithSpecRetry(20*time.Millisecond))
	sub := subscribeHealth(t, nc, a.Host())
	runAgent(t, a)
	rev := putSpec(t, b.Spec, "3.7")
	h, _ := sub.next(10*time.Second, "a check against the KV spec", func(h events.HostHealth) bool { return h.SpecRevision == rev })
	if got := h.Releases[0].ExpectedImage; got != name("14", "1.2.16", "3.7") {
		t.Errorf("Got(expected image) = %s, want the KV spec's", got)
	}
	if err := b.Spec.Delete(context.Background(), events.SpecKey); err != nil {
		t.Fatal(err)
	}
	sub.next(10*time.Second, "the local spec again", func(h events.HostHealth) bool { return h.SpecRevision == 0 })
}

// frozenWatcher delivers what the real watch delivers until its first
// entry, then nothing, without closing: a watch that silently stalled.
type frozenWatcher struct {
	jetstream.KeyWatcher
	ch chan jetstream.KeyValueEntry
}

func freeze(w jetstream.KeyWatcher) *frozenWatcher {
	f := &frozenWatcher{KeyWatcher: w, ch: make(chan jetstream.KeyValueEntry, 1)}
	go func() {
		for e := range w.Updates() {
			if e != nil {
				f.ch <- e
				return
			}
		}
	}()
	return f
}

func (f *frozenWatcher) Updates() <-chan jetstream.KeyValueEntry { return f.ch }

// A watch that stays open but stops delivering is noticed at the heartbeat
// reads and made again, so the host catches up with the spec.
func TestRunRemakesAStalledSpecWatch(t *testing.T) {
	t.Parallel()
	s := bustest.Server(t, "")
	nc := bustest.Conn(t, s)
	js, _ := jetstream.New(nc)
	b, err := bus.EnsureBuckets(context.Background(), js, 1, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	first := putSpec(t, b.Spec, "3.6")
	a := newAgent(t, slowConfig(t), tarttest.NewFake(""), WithConn(agentConn(t, s, 50*time.Millisecond)), WithSpecRetry(20*time.Millisecond))
	a.specCheck = 100 * time.Millisecond
	watches := make(chan struct{}, 10)
	a.specWatch = func(kv jetstream.KeyValue) func(context.Context, []string, ...jetstream.WatchOpt) (jetstream.KeyWatcher, error) {
		return func(ctx context.Context, keys []string, opts ...jetstream.WatchOpt) (jetstream.KeyWatcher, error) {
			w, err := kv.WatchFiltered(ctx, keys, opts...)
			if err != nil {
				return nil, err
			}
			watches <- struct{}{}
			return freeze(w), nil
		}
	}
	sub := subscribeHealth(t, nc, a.Host())
	runAgent(t, a)
	sub.next(10*time.Second, "a check against the first spec", func(h events.HostHealth) bool { return h.SpecRevision == first })
	second := putSpec(t, b.Spec, "3.7")
	sub.next(15*time.Second, "a check against the spec the frozen watch missed", func(h events.HostHealth) bool { return h.SpecRevision == second })
	eventually(t, 10*time.Second, "the stalled watch made again", func() bool { return len(watches) >= 2 })
}
