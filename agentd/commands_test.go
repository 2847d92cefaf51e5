package agentd

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus/bustest"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

// running starts an agent with NATS and returns it with a client connection
// and the subjects, once its first event is out.
func running(t *testing.T, cfg Config, f *tarttest.Fake, opts ...Option) (*Agent, *nats.Conn, *healthSub) {
	t.Helper()
	s := bustest.Server(t, "")
	a := newAgent(t, cfg, f, append([]Option{WithConn(agentConn(t, s, 50*time.Millisecond))}, opts...)...)
	nc := bustest.Conn(t, s)
	sub := subscribeHealth(t, nc, a.Host())
	runAgent(t, a)
	sub.next(5*time.Second, "a first event", anyHealth)
	return a, nc, sub
}

func cmdSubject(a *Agent, verb string) string { return a.subj.Command(a.host, verb) }

func TestMalformedCommandsGetBadRequest(t *testing.T) {
	t.Parallel()
	a, nc, _ := running(t, slowConfig(t), tarttest.NewFake(""))
	tests := []struct {
		name, verb string
		body       []byte
		want       string // in the error
	}{
		{"not JSON", events.VerbCheck, []byte("{not json"), "not JSON"},
		{"unknown verb", "reboot", []byte("{}"), `unknown command "reboot"`},
		{"bad forced state", events.VerbForce, []byte(`{"state":"maybe"}`), "state"},
		{"negative ttl", events.VerbForce, []byte(`{"state":"ready","ttl":"-1h"}`), "ttl"},
		{"bad ttl", events.VerbForce, []byte(`{"state":"ready","ttl":"soon"}`), "duration"},
		{"pull source with option", events.VerbPull, []byte(`{"source":"--insecure","name":"x"}`), "source"},
		{"pull name with slash", events.VerbPull, []byte(`{"source":"ghcr.io/a/b:1","name":"../x"}`), "name"},
		{"pull name not ours", events.VerbPull, []byte(`{"source":"ghcr.io/a/b:1","name":"ubuntu"}`), "template"},
		{"prune nothing", events.VerbPrune, []byte(`{"vms":[]}`), "vms"},
		{"wrong field type", events.VerbPrune, []byte(`{"vms":"all"}`), "data"},
		{"envelope of another verb", events.VerbForce, command(t, events.VerbPull, events.PullRequest{}), "type"},
		{"envelope without data", events.VerbCheck, []byte(`{"specversion":"1.0","id":"1","source":"x","type":"dev.vmfleet.cmd.check.v1"}`), "data"},
		{"envelope of another version", events.VerbCheck, []byte(`{"specversion":"0.3","id":"1","source":"x","type":"t","data":{}}`), "specversion"},
		{"a JSON string", events.VerbForce, []byte(`"ready"`), "data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := request(t, nc, cmdSubject(a, tt.verb), tt.body)
			if r.OK || r.Code != events.CodeBadRequest || !strings.Contains(r.Error, tt.want) {
				t.Errorf("Got(reply) = ok %v code %q error %q, want bad_request mentioning %q", r.OK, r.Code, r.Error, tt.want)
			}
		})
	}
	// The agent is still serving.
	if r := request(t, nc, cmdSubject(a, events.VerbCheck), nil); !r.OK || r.Health == nil {
		t.Errorf("Got(check after bad commands) = %+v, want ok with health", r)
	}
}

func TestCheckCommandRepliesAndPublishes(t *testing.T) {
	t.Parallel()
	f := tarttest.NewFake("")
	a, nc, sub := running(t, slowConfig(t), f)
	f.Add(local(name("14", "1.2.16", "3.6")))
	for _, body := range [][]byte{nil, []byte("{}"), command(t, events.VerbCheck, events.CheckRequest{})} {
		r := request(t, nc, cmdSubject(a, events.VerbCheck), body)
		if !r.OK || r.Health == nil || !r.Health.Releases[1].Ready || r.At.IsZero() {
			t.Fatalf("Got(check reply to %q) = %+v, want ok with release 14 ready", body, r)
		}
		sub.next(5*time.Second, "the checked event", func(h events.HostHealth) bool { return h.Seq == r.Health.Seq })
	}
}

func TestForceCommandSurvivesRestart(t *testing.T) {
	t.Parallel()
	cfg := slowConfig(t)
	s := bustest.Server(t, "")
	nc := bustest.Conn(t, s)
	a := newAgent(t, cfg, tarttest.NewFake(""), WithConn(agentConn(t, s, 50*time.Millisecond)))
	sub := subscribeHealth(t, nc, a.Host())
	stop := runAgent(t, a)
	sub.next(5*time.Second, "a first event", anyHealth)
	r := request(t, nc, cmdSubject(a, events.VerbForce), command(t, events.VerbForce, events.ForceRequest{State: events.ForcedReady, TTL: events.Duration(time.Hour), By: "ops"}))
	if !r.OK || r.Health == nil || !r.Health.Ready || r.Health.Forced == nil || r.Health.Forced.SetBy != "ops" {
		t.Fatalf("Got(force reply) = %+v, want ok, forced ready by ops", r)
	}
	stop()

	b := newAgent(t, cfg, tarttest.NewFake(""), WithConn(agentConn(t, s, 50*time.Millisecond)))
	runAgent(t, b)
	h, _ := sub.next(5*time.Second, "the restarted agent's event", func(h events.HostHealth) bool { return h.BootID != r.Health.BootID })
	if h.Forced == nil || h.Forced.State != events.ForcedReady || h.Releases[0].Reason != events.ReasonForcedReady {
		t.Fatalf("Got(after restart) = forced %+v reason %s, want forced_ready", h.Forced, h.Releases[0].Reason)
	}
	r = request(t, nc, cmdSubject(b, events.VerbForce), []byte(`{"clear":true}`))
	if !r.OK || r.Health.Forced != nil || r.Health.Releases[0].Reason != events.ReasonImageMissing {
		t.Errorf("Got(clear reply) = %+v, want ok and image_missing", r)
	}
}

func TestPullCommandClones(t *testing.T) {
	t.Parallel()
	cfg := slowConfig(t)
	cfg.Images.Registry = "ghcr.io/acme/bun-build-macos-{release}:{bun}-bootstrap-{bootstrap}"
	f := tarttest.NewFake("")
	a, nc, sub := running(t, cfg, f)
	spec, _ := a.Spec()
	req := events.PullRequest{Source: spec.RegistryRef("14"), Name: spec.ImageName("14")}
	for i := range 2 { // the second pull finds the image there: still ok
		r := request(t, nc, cmdSubject(a, events.VerbPull), command(t, events.VerbPull, req))
		if !r.OK || r.Health == nil || !r.Health.Releases[1].Ready {
			t.Fatalf("pull %d: Got(reply) = %+v, want ok with release 14 ready", i, r)
		}
	}
	if !f.Has(req.Name) || f.Calls(tarttest.OpClone) != 2 {
		t.Errorf("Got(fake) = has %v, clones %d, want the image cloned", f.Has(req.Name), f.Calls(tarttest.OpClone))
	}
	sub.next(5*time.Second, "the event after the pull", func(h events.HostHealth) bool { return h.Releases[1].Ready })
	// A tart failure is a tart_error reply.
	f.FailNext(tarttest.OpClone, opErrForTest())
	r := request(t, nc, cmdSubject(a, events.VerbPull), mustJSON(t, events.PullRequest{Source: spec.RegistryRef("13"), Name: spec.ImageName("13")}))
	if r.OK || r.Code != events.CodeTartError || !strings.Contains(r.Error, "pull") {
		t.Errorf("Got(failed pull) = %+v, want tart_error", r)
	}
}
