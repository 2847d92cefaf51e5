package agentd

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
)

// agentConn connects an agent to s the way `vmfleet agent run` does.
func agentConn(t testing.TB, s *server.Server, wait time.Duration) *nats.Conn {
	t.Helper()
	nc, err := bus.Connect(bus.ConnConfig{URLs: []string{s.ClientURL()}, Name: "agent", ReconnectWait: wait}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// runAgent runs a.Run until the test ends, failing it if Run fails.
func runAgent(t testing.TB, a *Agent) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Run did not return within 10s of cancel")
		}
	}
	t.Cleanup(stop)
	return stop
}

// healthSub collects the health events of one host.
type healthSub struct {
	t  testing.TB
	ch chan *nats.Msg
}

func subscribeHealth(t testing.TB, nc *nats.Conn, host string) *healthSub {
	t.Helper()
	subj, _ := events.NewSubjects("")
	h := &healthSub{t: t, ch: make(chan *nats.Msg, 256)}
	if _, err := nc.ChanSubscribe(subj.Health(host), h.ch); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return h
}

// next returns the first health event (within d) for which cond holds.
func (h *healthSub) next(d time.Duration, what string, cond func(events.HostHealth) bool) (events.HostHealth, *nats.Msg) {
	h.t.Helper()
	timeout := time.After(d)
	for {
		select {
		case m := <-h.ch:
			env, err := events.Decode(m.Data)
			if err != nil {
				h.t.Fatalf("health event does not decode: %v", err)
			}
			hh, err := events.DecodeData[events.HostHealth](env, events.TypeHostHealth)
			if err != nil {
				h.t.Fatalf("health data does not decode: %v", err)
			}
			if cond(hh) {
				return hh, m
			}
		case <-timeout:
			h.t.Fatalf("no health event with %s within %s", what, d)
		}
	}
}

func anyHealth(events.HostHealth) bool { return true }

// request sends a command (raw body) and decodes the reply envelope.
func request(t testing.TB, nc *nats.Conn, subject string, body []byte) events.Reply {
	t.Helper()
	m, err := nc.Request(subject, body, 5*time.Second)
	if err != nil {
		t.Fatalf("request %s: %v", subject, err)
	}
	env, err := events.Decode(m.Data)
	if err != nil {
		t.Fatalf("reply does not decode: %v: %s", err, m.Data)
	}
	r, err := events.DecodeData[events.Reply](env, events.TypeReply)
	if err != nil {
		t.Fatalf("reply data: %v", err)
	}
	return r
}

// command encodes req as a CloudEvent for verb.
func command(t testing.TB, verb string, req any) []byte {
	t.Helper()
	b, err := events.Encode(events.CommandType(verb), "/test", "", "", time.Now(), req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
