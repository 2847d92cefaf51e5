package fleetsim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/vmfleet/vmfleet/agentd"
	"github.com/vmfleet/vmfleet/agentd/bkagent"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
)

// hostChaos is what the chaos does to one host: its agent's run (to stop
// it alone), its network, clock and disk, and the images deleted behind
// vmfleet's back (which a job-routing tag may name until the next check).
type hostChaos struct {
	mu   sync.Mutex
	stop context.CancelFunc
	done chan struct{}
	conn *nats.Conn
	// dialer refuses every connection while the host is offline.
	dialer partitionDialer
	// skew is the host clock's offset (nanoseconds); fill the bytes a
	// disk filling up takes.
	skew, fill atomic.Int64
	// removed: when each image was deleted behind vmfleet's back;
	// applied: when the agent last applied its tags.
	removed map[string]time.Time
	applied time.Time
}

// running records the agent's run: stop ends it, done closes once it ended.
func (c *hostChaos) running(stop context.CancelFunc, done chan struct{}, conn *nats.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stop, c.done, c.conn, c.applied = stop, done, conn, time.Time{}
}

// stopAgent stops the host's agent (as a crash or a power cut would: no
// goodbye) and waits for it to end.
func (c *hostChaos) stopAgent(ctx context.Context) {
	c.mu.Lock()
	stop, done := c.stop, c.done
	c.mu.Unlock()
	if stop == nil {
		return
	}
	stop()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// partitionDialer dials NATS unless the host is offline.
type partitionDialer struct {
	down atomic.Bool
	d    net.Dialer
}

func (p *partitionDialer) Dial(network, address string) (net.Conn, error) {
	if p.down.Load() {
		return nil, errors.New("simulated network outage")
	}
	return p.d.Dial(network, address)
}

// offline cuts (or restores) the host's network: its connection drops and
// every reconnect fails until it is back.
func (c *hostChaos) offline(down bool) {
	c.dialer.down.Store(down)
	c.mu.Lock()
	conn := c.conn
	c.mu.Unlock()
	if down && conn != nil {
		_ = conn.ForceReconnect()
	}
}

// connectAgent connects a host's agent to NATS: as a real agent does
// (bus.Connect), or with chaos through the host's own dialer, so that its
// network can go.
func (s *Sim) connectAgent(h *simHost, natsURL string, log *slog.Logger) (*nats.Conn, error) {
	name := "vmfleet-agent " + h.name
	if s.chaos == nil {
		return bus.Connect(bus.ConnConfig{URLs: []string{natsURL}, Name: name, ReconnectWait: 100 * time.Millisecond}, log)
	}
	return nats.Connect(natsURL, nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond),
		nats.RetryOnFailedConnect(true), nats.ReconnectBufSize(8<<20), nats.SetCustomDialer(&h.chaos.dialer),
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
}

// agentOptions are the agent's options under chaos: a clock that may run
// off, a tag applier that checks every job-routing tag against the host's
// inventory, and a disk measure that records the disk each prune is
// planned against (chaos_disk.go).
func (c *chaosRun) agentOptions(h *simHost) []agentd.Option {
	if c == nil {
		return nil
	}
	return []agentd.Option{
		agentd.WithClock(func() time.Time { return time.Now().Add(time.Duration(h.chaos.skew.Load())) }),
		agentd.WithTagApplier(tagCheck{c: c, h: h}),
		agentd.WithDisk(c.diskMeasure(h)),
	}
}

// tagCheck computes the tags a real agent would give buildkite-agent
// (bkagent.Tags) and checks that none says an image is ready, or held,
// that the host does not have: job routing must never send a job to a host
// without its image. An image deleted behind vmfleet's back after the
// previous tags were applied may still be named (the check that produced
// these tags may have listed it before it went).
type tagCheck struct {
	c *chaosRun
	h *simHost
}

func (t tagCheck) Apply(_ context.Context, hh events.HostHealth) ([]string, error) {
	tags := bkagent.Tags(hh, bkagent.TagOptions{})
	hc := &t.h.chaos
	hc.mu.Lock()
	prev := hc.applied
	hc.applied = time.Now()
	removed := make(map[string]time.Time, len(hc.removed))
	for k, v := range hc.removed {
		removed[k] = v
	}
	hc.mu.Unlock()
	claims := map[string]string{}
	for _, st := range hh.Releases {
		if bkagent.ReleaseReady(st) && st.ExpectedImage != "" {
			claims[st.ExpectedImage] = bkagent.ReleaseKey(bkagent.KeyReady, st.Release) + "=true"
		}
	}
	for _, img := range bkagent.HeldImages(hh) {
		if _, ok := claims[img]; !ok {
			claims[img] = events.ImageTagKey(img) + "=true"
		}
	}
	for img, tag := range claims {
		if t.h.fake.Has(img) {
			continue
		}
		if at, ok := removed[img]; ok && !at.Before(prev) {
			continue
		}
		t.c.s.violate(Violation{Kind: VTagWithoutImage, Host: t.h.token, VM: img,
			Detail: fmt.Sprintf("tag %s applied (check seq %d) but the host has no %s", tag, hh.Seq, img)})
	}
	return tags, nil
}

// removedBehind records an image deleted behind vmfleet's back.
func (c *hostChaos) removedBehind(img string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removed == nil {
		c.removed = map[string]time.Time{}
	}
	c.removed[img] = time.Now()
}
