package agentd

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/internal/bus/bustest"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

// signalHandler passes records on and sends the message of each one that
// starts with prefix to ch.
type signalHandler struct {
	slog.Handler
	prefix string
	ch     chan<- string
}

func (h signalHandler) Handle(ctx context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, h.prefix) {
		h.ch <- r.Message
	}
	return h.Handler.Handle(ctx, r)
}

func (h signalHandler) WithAttrs(as []slog.Attr) slog.Handler {
	h.Handler = h.Handler.WithAttrs(as)
	return h
}

func (h signalHandler) WithGroup(name string) slog.Handler {
	h.Handler = h.Handler.WithGroup(name)
	return h
}

// TestRunKeepsLastGoodSpecOnInvalidKV: a spec in KV that fails
// events.ValidateSpec (written by hand, or by an older orchestrator that
// checked less) is logged, counted and ignored; the last good spec stays in
// force.
func TestRunKeepsLastGoodSpecOnInvalidKV(t *testing.T) {
	t.Parallel()
	s := bustest.Server(t, "")
	f := tarttest.NewFake("")
	f.Add(local(name("15", "1.3.0", "4.0")))
	rejected := make(chan string, 16)
	log := slog.New(signalHandler{Handler: testLogger(t).Handler(), prefix: "ignoring invalid spec in KV", ch: rejected})
	reg := prometheus.NewRegistry()
	a := newAgent(t, slowConfig(t), f, WithConn(agentConn(t, s, 50*time.Millisecond)), WithLogger(log), WithMetrics(reg))
	nc := bustest.Conn(t, s)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	b, err := bus.EnsureBuckets(ctx, js, 1, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	good := events.Spec{Images: events.ImageSpec{Releases: []string{"15"}, BunVersion: "1.3.0", BootstrapVersion: "4.0"}, UpdatedAt: time.Now()}
	goodRev, err := b.Spec.Put(ctx, events.SpecKey, mustJSON(t, good))
	if err != nil {
		t.Fatal(err)
	}
	sub := subscribeHealth(t, nc, a.Host())
	runAgent(t, a)
	sub.next(5*time.Second, "a check against the good KV spec", func(h events.HostHealth) bool { return h.SpecRevision == goodRev })

	bad := func(mod func(*events.ImageSpec)) events.Spec {
		s := good
		s.Images.Releases = []string{"15"}
		mod(&s.Images)
		return s
	}
	envelope := func(s events.Spec) []byte {
		b, err := events.Encode(events.TypeSpec, "/test", events.SpecKey, "", time.Now(), s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	invalid := map[string][]byte{
		"release abc":      mustJSON(t, bad(func(im *events.ImageSpec) { im.Releases = []string{"abc"} })),
		"bun 1.2.x":        envelope(bad(func(im *events.ImageSpec) { im.BunVersion = "1.2.x" })),
		"no releases":      mustJSON(t, bad(func(im *events.ImageSpec) { im.Releases = nil })),
		"duplicate":        envelope(bad(func(im *events.ImageSpec) { im.Releases = []string{"15", "15"} })),
		"bad cron":         mustJSON(t, events.Spec{Images: good.Images, Cleanup: events.CleanupPolicy{Windows: []events.Window{{Schedule: "61 * * * *", Duration: events.Duration(time.Hour)}}}}),
		"another type":     []byte(strings.Replace(string(envelope(good)), events.TypeSpec, events.TypeBuild, 1)),
		"not JSON":         []byte("{releases: 15"),
		"registry with ..": mustJSON(t, bad(func(im *events.ImageSpec) { im.Registry = "ghcr.io/../{release}:{bun}-{bootstrap}" })),
	}
	for what, body := range invalid {
		if _, err := b.Spec.Put(ctx, events.SpecKey, body); err != nil {
			t.Fatal(err)
		}
		select {
		case <-rejected:
		case <-time.After(5 * time.Second):
			t.Fatalf("Got(no rejection of the %s spec within 5s), want it logged", what)
		}
		r := request(t, nc, cmdSubject(a, events.VerbCheck), nil)
		if !r.OK || r.Health == nil || r.Health.SpecRevision != goodRev || len(r.Health.Releases) != 1 || !r.Health.Releases[0].Ready {
			t.Errorf("Got(check after the %s spec) = %+v, want release 15 ready under the good spec (revision %d)", what, r.Health, goodRev)
		}
	}
	if got := testutil.ToFloat64(a.metrics.specRejected); got != float64(len(invalid)) {
		t.Errorf("Got(vmfleet_agent_spec_rejected_total) = %v, want %d", got, len(invalid))
	}
}
