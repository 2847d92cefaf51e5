package e2e

import (
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

const registry = "ghcr.io/acme/bun-build-macos-{release}:{bun}-bootstrap-{bootstrap}"

// stamps records when a subject first saw a message after arm.
type stamps struct {
	mu    sync.Mutex
	armed bool
	at    map[string]time.Time
}

func (s *stamps) arm() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed, s.at = true, map[string]time.Time{}
}

func (s *stamps) see(kind string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.at[kind]; s.armed && !ok {
		s.at[kind] = time.Now()
	}
}

func (s *stamps) get(kind string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.at[kind]
	return t, ok
}

// TestGracefulShutdown: SIGTERM to the leader while a pull it sent is in
// flight. It stops acting, waits for the agent's reply (bounded by
// --drain-timeout), hands the lease back at once (the follower leads well
// before the TTL would have run out), drains NATS and exits 0. A second
// signal during the drain exits at once with 130.
func TestGracefulShutdown(t *testing.T) {
	n := startNATS(t)
	w := newWorld(t, []string{n.url()})
	a := w.startOrch("a", "--registry", registry)
	waitFor(t, "a leads", 20*time.Second, a.leads)
	b := w.startOrch("b", "--registry", registry)
	waitFor(t, "b ready", 20*time.Second, func() bool { _, ok := b.readyz(); return ok })
	ag := w.startAgent("mac-0") // pulls time out after 3 s
	ag.state.Hang(tarttest.OpClone)

	// Watch the pull commands and the agent's replies.
	nc := natsConn(t, n.url())
	var st stamps
	sub, err := nc.Subscribe("vmfleet.cmd."+ag.host+".pull", func(*nats.Msg) { st.see("pull") })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	inbox, err := nc.Subscribe("_INBOX.>", func(m *nats.Msg) {
		if env, err := events.Decode(m.Data); err == nil && env.Type == events.TypeReply {
			st.see("reply")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer inbox.Unsubscribe()
	st.arm()

	// The registry build passes; a sends the pull, which hangs in tart.
	waitFor(t, "registry build created", 20*time.Second, func() bool { return len(w.bk.Builds()) == 1 })
	w.bk.Step()
	w.bk.Step()
	waitFor(t, "pull sent", 20*time.Second, func() bool { _, ok := st.get("pull"); return ok })
	term := time.Now()
	a.p.signal(syscall.SIGTERM)
	waitFor(t, "b leads", 10*time.Second, b.leads)
	led := time.Now()
	code, ok := a.p.wait(10 * time.Second)
	exited := time.Now()
	reply, replied := st.get("reply")
	t.Logf("FIGURE SIGTERM: agent reply %s, follower leads %s, exit %s after the signal (drain timeout 5s, TTL %s)",
		reply.Sub(term).Round(time.Millisecond), led.Sub(term).Round(time.Millisecond), exited.Sub(term).Round(time.Millisecond), leaseTTL)
	switch {
	case !ok || code != 0:
		t.Errorf("Got(exit after SIGTERM) = %d (exited %v), want 0", code, ok)
	case !replied || reply.After(led):
		t.Errorf("Got(reply before hand-back) = %v (replied %v), want the pull's reply before the follower led", reply.Sub(led), replied)
	case led.Sub(reply) > leaseTTL/2:
		t.Errorf("Got(hand-back after the reply) = %s, want at once (well under the TTL %s)", led.Sub(reply), leaseTTL)
	}
	if i, j := a.p.logged("lease handed back"), a.p.logged("orchestrator stopped"); i < 0 || j < i {
		t.Errorf("Got(log order) = handed back at line %d, stopped at %d, want the hand-back logged before the stop", i, j)
	}

	// b sends the pull again (it still hangs); a second signal during b's
	// drain exits at once.
	st.arm()
	waitFor(t, "b sends the pull", 20*time.Second, func() bool { _, ok := st.get("pull"); return ok })
	b.p.signal(syscall.SIGTERM)
	waitFor(t, "b draining", 5*time.Second, func() bool { return b.p.logged("shutting down") >= 0 })
	second := time.Now()
	b.p.signal(syscall.SIGTERM)
	code, ok = b.p.wait(5 * time.Second)
	t.Logf("FIGURE second signal: exit %d after %s", code, time.Since(second).Round(time.Millisecond))
	if !ok || code != 130 {
		t.Errorf("Got(exit after a second signal) = %d (exited %v), want 130", code, ok)
	}

	// Once tart answers again, a restarted orchestrator finishes the job.
	ag.state.Hang()
	a.restart()
	waitFor(t, "host ready", 30*time.Second, func() bool { return allReady(a, ag.host) })
	w.noDuplicates()
}
