package drains_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus/bustest"
	"github.com/vmfleet/vmfleet/orchestrator/drains"
	"github.com/vmfleet/vmfleet/orchestrator/hostcmd"
)

// TestDrainAndResume over a real nats-server: the force command each
// sends, the event each publishes, and what a host that does not answer,
// or refuses, makes of them.
func TestDrainAndResume(t *testing.T) {
	srv := bustest.Server(t, "")
	subj, err := events.NewSubjects("")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	agent := bustest.Conn(t, srv)
	got := make(chan events.ForceRequest, 4)
	// mac-01 answers as an agent does: it applies the force and replies
	// with the health of its check; mac-02 refuses.
	sub, err := agent.Subscribe(subj.Command("mac-01", events.VerbForce), func(m *nats.Msg) {
		req, err := events.DecodeEither[events.ForceRequest](m.Data, events.CommandType(events.VerbForce))
		if err != nil {
			t.Errorf("force command: %v", err)
		}
		got <- req
		h := events.HostHealth{Host: "mac-01"}
		if !req.Clear {
			h.Forced = &events.Forced{State: req.State, SetAt: now, SetBy: req.By, Reason: req.Reason, Until: now.Add(req.TTL.D())}
		}
		b, _ := events.Encode(events.TypeReply, "agent", "mac-01", "", now, events.Reply{OK: true, Health: &h})
		_ = m.Respond(b)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	sub2, err := agent.Subscribe(subj.Command("mac-02", events.VerbForce), func(m *nats.Msg) {
		_ = m.Respond([]byte(`{"ok":false,"error":"cannot save the forced state","code":"internal"}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub2.Unsubscribe()
	if err := agent.Flush(); err != nil {
		t.Fatal(err)
	}
	var published []events.HostDrain
	d := drains.Deps{Now: func() time.Time { return now }, Log: slog.New(slog.DiscardHandler), Timeout: 5 * time.Second,
		Client:  hostcmd.Client{Conn: bustest.Conn(t, srv), Subjects: subj, Source: "orchestrator", Now: time.Now},
		Publish: func(_ context.Context, ev events.HostDrain) { published = append(published, ev) }}

	ev, err := drains.Drain(t.Context(), d, "mac-01", nil, events.DrainRequest{By: "alice", Reason: "disk swap", TTL: events.Duration(4 * time.Hour)})
	if err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if req := <-got; req.State != events.ForcedNotReady || req.Clear || req.By != "alice" || req.Reason != "disk swap" || req.TTL.D() != 4*time.Hour {
		t.Errorf("Got(force command) = %+v, want not_ready by alice, disk swap, 4h", req)
	}
	if ev.Action != events.DrainActionDrain || !ev.Until.Equal(now.Add(4*time.Hour)) || ev.Forced == nil || ev.Forced.Reason != "disk swap" || ev.Was != nil {
		t.Errorf("Got(drain) = %+v, want a drain until +4h with the agent's forced state", ev)
	}
	was := ev.Forced
	ev, err = drains.Resume(t.Context(), d, "mac-01", was, events.DrainRequest{By: "bob", TTL: events.Duration(time.Hour)})
	if err != nil {
		t.Fatalf("Resume: %v", err)
	}
	if req := <-got; !req.Clear || req.By != "bob" {
		t.Errorf("Got(force command of a resume) = %+v, want clear by bob", req)
	}
	if ev.Action != events.DrainActionResume || ev.Forced != nil || ev.Was != was || !ev.Until.IsZero() {
		t.Errorf("Got(resume) = %+v, want a resume of alice's drain, no TTL", ev)
	}
	if len(published) != 2 || published[0].Action != events.DrainActionDrain || published[1].Action != events.DrainActionResume {
		t.Errorf("Got(published) = %+v, want the drain, then the resume", published)
	}

	_, err = drains.Drain(t.Context(), d, "mac-03", nil, events.DrainRequest{})
	if !errors.Is(err, drains.ErrHostOffline) || !errors.Is(err, nats.ErrNoResponders) || !strings.Contains(err.Error(), "vmfleet agent run") {
		t.Errorf("Got(drain of a host without an agent) = %v, want ErrHostOffline naming the agent", err)
	}
	_, err = drains.Drain(t.Context(), d, "mac-02", nil, events.DrainRequest{})
	if _, ok := errors.AsType[*hostcmd.AgentError](err); !ok || !strings.Contains(err.Error(), "cannot save the forced state") {
		t.Errorf("Got(drain refused by the agent) = %v, want the agent's error", err)
	}
	if _, err := drains.Drain(t.Context(), d, "mac.01", nil, events.DrainRequest{}); !errors.Is(err, events.ErrInvalid) {
		t.Errorf("Got(drain of a bad host name) = %v, want ErrInvalid", err)
	}
	if len(published) != 2 {
		t.Errorf("Got(published after failures) = %d events, want still 2", len(published))
	}

	err = drains.Stale("mac-01", now.Add(-90*time.Second), now)
	if !errors.Is(err, drains.ErrHostOffline) || !strings.Contains(err.Error(), "mac-01 has not reported since 2025-03-01T11:58:30Z (1m30s ago)") {
		t.Errorf("Got(Stale) = %v, want ErrHostOffline with the last report and how long ago", err)
	}
}
