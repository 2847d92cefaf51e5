package hostcmd_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus/bustest"
	"github.com/vmfleet/vmfleet/orchestrator/hostcmd"
)

// TestSend: the replies Client.Send reads (a CloudEvent or the bare JSON),
// what it makes of one that is not OK, of one it cannot read, and of no
// agent or no connection.
func TestSend(t *testing.T) {
	srv := bustest.Server(t, "")
	subj, err := events.NewSubjects("")
	if err != nil {
		t.Fatal(err)
	}
	agent := bustest.Conn(t, srv)
	answers := map[string][]byte{}
	health := events.Reply{OK: true, Health: &events.HostHealth{BootID: "b", Seq: 3}}
	if answers["event"], err = events.Encode(events.TypeReply, "agent", "mac-01", "", time.Now(), health); err != nil {
		t.Fatal(err)
	}
	answers["bare"] = []byte(`{"ok":true,"health":{"boot_id":"b","seq":3}}`)
	answers["refused"] = []byte(`{"ok":false,"error":"host lock busy","code":"busy"}`)
	answers["garbage"] = []byte(`not json`)
	for host, b := range answers {
		sub, err := agent.Subscribe(subj.Command(host, events.VerbPrune), func(m *nats.Msg) { _ = m.Respond(b) })
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sub.Unsubscribe() })
	}
	if err := agent.Flush(); err != nil {
		t.Fatal(err)
	}
	c := hostcmd.Client{Conn: bustest.Conn(t, srv), Subjects: subj, Source: "orchestrator", Now: time.Now}
	tests := []struct {
		host    string
		client  hostcmd.Client
		wantSeq uint64 // of the reply's health
		wantErr string // a substring; "" for none
		is      error
	}{
		{host: "event", client: c, wantSeq: 3},
		{host: "bare", client: c, wantSeq: 3},
		{host: "refused", client: c, wantErr: "prune on refused: host lock busy (busy)"},
		{host: "garbage", client: c, wantErr: "prune on garbage: bad reply: "},
		{host: "nobody", client: c, is: nats.ErrNoResponders, wantErr: "prune on nobody: "},
		{host: "event", client: hostcmd.Client{Subjects: subj, Now: time.Now}, is: hostcmd.ErrNoNATS, wantErr: "no NATS connection"},
	}
	for _, tt := range tests {
		rep, err := tt.client.Send(t.Context(), hostcmd.Command{Verb: events.VerbPrune, Host: tt.host,
			Req: events.PruneRequest{VMs: []string{"vm-1"}}, Timeout: 10 * time.Second})
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: Got(Send) = %v, want nil", tt.host, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: Got(Send) = %v, want an error with %q", tt.host, err, tt.wantErr)
		case tt.is != nil && !errors.Is(err, tt.is):
			t.Errorf("%s: Got(Send) = %v, want one wrapping %v", tt.host, err, tt.is)
		}
		if tt.wantSeq != 0 && (rep.Health == nil || rep.Health.Seq != tt.wantSeq) {
			t.Errorf("%s: Got(reply health) = %+v, want seq %d", tt.host, rep.Health, tt.wantSeq)
		}
		if tt.host == "refused" {
			ae, ok := errors.AsType[*hostcmd.AgentError](err)
			if !ok || ae.Code != events.CodeBusy || rep.Code != events.CodeBusy {
				t.Errorf("Got(refused) = %v, reply %+v; want an *AgentError and the reply, code busy", err, rep)
			}
		}
	}
}
