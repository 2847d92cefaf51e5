package hostcmd_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus/bustest"
	"github.com/vmfleet/vmfleet/orchestrator/hostcmd"
)

// This file is a whole third verb, "echo", end to end over a real
// nats-server: the request type, the agent's handler, the orchestrator's
// want and the Verb that sends it. A real verb puts each part in its place:
//   - the request type and the verb's name: package events (command.go,
//     the name listed in Verbs);
//   - the handler: agentd (a case in its command handler, commands.go);
//   - the want: a file of the orchestrator's own holds a Dispatcher with a
//     Verb like echoVerb and the function that derives an echoWant from a
//     host's report; verbFor joins them, and one entry in the
//     orchestrator's hostVerbs (loops.go) registers it with the pass and
//     the drain (docs/architecture.md, "A host command verb").

const verbEcho = "echo"

// echoRequest is the echo command's payload.
type echoRequest struct {
	Text string `json:"text"`
}

func (echoRequest) Validate() error { return nil }

// echoWant is a host the reconcile pass wants to echo text, derived from its
// report (boot, seq).
type echoWant struct {
	host, text string
	boot       string
	seq        uint64
}

// serveEcho is the agent's handler: it echoes nothing back but its health
// (the check it made right after), and refuses an empty text.
func serveEcho(t *testing.T, nc *nats.Conn, subj events.Subjects, served *atomic.Int32) {
	t.Helper()
	sub, err := nc.Subscribe(subj.Command("*", verbEcho), func(m *nats.Msg) {
		served.Add(1)
		rep := events.Reply{OK: true, At: time.Now(), Health: &events.HostHealth{BootID: "b", Seq: 7}}
		env, err := events.Decode(m.Data)
		if err == nil {
			var req echoRequest
			if req, err = events.DecodeData[echoRequest](env, events.CommandType(verbEcho)); err == nil && req.Text == "" {
				err = errors.New("nothing to echo")
			}
		}
		if err != nil {
			rep = events.Reply{Error: err.Error(), Code: events.CodeBadRequest, At: time.Now()}
		}
		data, err := events.Encode(events.TypeReply, "agent", env.Subject, "", rep.At, rep)
		if err == nil {
			err = m.Respond(data)
		}
		if err != nil {
			t.Errorf("echo handler: %v", err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	// The server has the subscription once it answered the flush, so a
	// request from another connection finds a responder.
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

// echoVerb is the orchestrator's side: a Dispatcher's verb whose Send is the
// generic one; done receives each finished command's error.
func echoVerb(c hostcmd.Client, done chan<- error) hostcmd.Verb[echoWant, events.Reply] {
	return hostcmd.Verb[echoWant, events.Reply]{
		Cap:     4,
		Backoff: func(n int) time.Duration { return time.Minute << (n - 1) },
		Now:     time.Now,
		Key:     func(w echoWant) string { return w.host },
		From:    func(w echoWant) hostcmd.Report { return hostcmd.Report{Boot: w.boot, Seq: w.seq} },
		Send: func(ctx context.Context, w echoWant) (events.Reply, error) {
			return c.Send(ctx, hostcmd.Command{Verb: verbEcho, Host: w.host, Req: echoRequest{Text: w.text}, Timeout: 10 * time.Second})
		},
		Finish: func(_ echoWant, rep events.Reply, err error) hostcmd.Outcome {
			if err != nil {
				return hostcmd.Outcome{Failure: err.Error()}
			}
			// The next echo waits for the check the agent made after this one.
			return hostcmd.Outcome{Wait: hostcmd.AtOrAfter(hostcmd.Report{Boot: rep.Health.BootID, Seq: rep.Health.Seq}), SetWait: true}
		},
		Done: func(_ echoWant, _ events.Reply, err error, _ hostcmd.Outcome, _ time.Time) { done <- err },
	}
}

func TestEchoVerb(t *testing.T) {
	srv := bustest.Server(t, "")
	subj, err := events.NewSubjects("")
	if err != nil {
		t.Fatal(err)
	}
	var served atomic.Int32
	serveEcho(t, bustest.Conn(t, srv), subj, &served)
	client := hostcmd.Client{Conn: bustest.Conn(t, srv), Subjects: subj, Source: "orchestrator", Now: time.Now}
	done := make(chan error, 8)
	d := hostcmd.New(echoVerb(client, done))
	ctx := t.Context()

	d.Dispatch(ctx, []echoWant{{host: "mac-01", text: "hello", boot: "b", seq: 1}}, true)
	if err := <-done; err != nil {
		t.Fatalf("Got(echo) = %v, want nil", err)
	}
	// A report older than the agent's check after the echo does not send it
	// again; the check itself does.
	for _, tt := range []struct {
		seq    uint64
		served int32
	}{{6, 1}, {7, 2}} {
		d.Dispatch(ctx, []echoWant{{host: "mac-01", text: "hello", boot: "b", seq: tt.seq}}, true)
		d.Wait()
		if tt.served == 2 {
			<-done
		}
		if got := served.Load(); got != tt.served {
			t.Errorf("Got(echoes served after a want from seq %d) = %d, want %d", tt.seq, got, tt.served)
		}
	}

	// The agent's refusal comes back as an *AgentError with its code.
	d.Dispatch(ctx, []echoWant{{host: "mac-02", boot: "b", seq: 1}}, true)
	err = <-done
	if ae, ok := errors.AsType[*hostcmd.AgentError](err); !ok || ae.Code != events.CodeBadRequest {
		t.Errorf("Got(empty echo) = %v, want an *AgentError with code %s", err, events.CodeBadRequest)
	}
	if st, _ := d.Status("mac-02"); st.Failures != 1 || st.Err != "echo on mac-02: nothing to echo (bad_request)" {
		t.Errorf("Got(mac-02 status) = %+v, want one failure, the agent's error", st)
	}

	// A host whose agent does not answer.
	if _, err := client.Send(ctx, hostcmd.Command{Verb: "unserved", Host: "mac-03", Req: echoRequest{Text: "x"}, Timeout: 10 * time.Second}); !errors.Is(err, nats.ErrNoResponders) {
		t.Errorf("Got(send to no agent) = %v, want nats.ErrNoResponders", err)
	}
}
