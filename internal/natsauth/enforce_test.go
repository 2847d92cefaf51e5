package natsauth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
)

// TestHostDenied runs what a compromised host might try against a real
// server running the generated configuration; the server must refuse each.
func TestHostDenied(t *testing.T) {
	f := startFleet(t)
	a, b := token(t, hostA), token(t, hostB)
	pubs := []struct{ name, subject string }{
		{"health as another host", f.subj.Health(b)},
		{"prune result as another host", f.subj.Prune(b, events.PruneDeleted)},
		{"another subject under its own host", "vmfleet.host." + a + ".junk"},
		{"a deeper subject under its own health", f.subj.Health(a) + ".x"},
		{"an unknown prune result of its own", f.subj.Prune(a, events.PruneResult("bogus"))},
		{"a command to another host", f.subj.Command(b, events.VerbPrune)},
		{"a command to itself", f.subj.Command(a, events.VerbPrune)},
		{"a build event", f.subj.Build("14", events.BuildRequested)},
		{"fleet readiness", f.subj.Readiness()},
		{"into another host's inbox", "_INBOX." + b + ".x"},
		{"into the orchestrator's inbox", "_INBOX.abc.x"},
		{"a spec KV write", "$KV." + events.BucketSpec + "." + events.SpecKey},
		{"a build record write", "$KV." + events.BucketBuilds + ".x"},
		{"a leader lease write", "$KV." + events.BucketLeader + ".leader"},
		{"a spec stream delete", "$JS.API.STREAM.DELETE.KV_" + events.BucketSpec},
		{"a spec stream purge", "$JS.API.STREAM.PURGE.KV_" + events.BucketSpec},
		{"a VMFLEET consumer (others' history)", "$JS.API.CONSUMER.CREATE." + events.StreamName + ".x." + f.subj.Health(b)},
		{"a VMFLEET message get", "$JS.API.STREAM.MSG.GET." + events.StreamName},
		{"a spec consumer on another stream's subjects", "$JS.API.CONSUMER.CREATE.KV_" + events.BucketSpec + ".x." + f.subj.Health(b)},
	}
	for _, tt := range pubs {
		t.Run("publish "+tt.name, func(t *testing.T) {
			t.Parallel()
			c := f.connect(t, a)
			if err := c.nc.Publish(tt.subject, []byte("{}")); err != nil {
				t.Fatal(err)
			}
			c.violation(t, tt.subject)
		})
	}
	subs := []struct{ name, subject string }{
		{"another host's commands", f.subj.HostCommands(b)},
		{"every host's prune commands", "vmfleet.cmd.*.prune"},
		{"every vmfleet subject", f.subj.All()},
		{"other hosts' health", f.subj.AllHealth()},
		{"another host's inbox", "_INBOX." + b + ".>"},
		{"every inbox", "_INBOX.>"},
		{"every JetStream ack", "$JS.ACK.>"},
	}
	for _, tt := range subs {
		t.Run("subscribe "+tt.name, func(t *testing.T) {
			t.Parallel()
			c := f.connect(t, a)
			if _, err := c.nc.SubscribeSync(tt.subject); err != nil {
				t.Fatal(err)
			}
			c.violation(t, tt.subject)
		})
	}
}

// TestHostAllowed: what a host must be able to do still works.
func TestHostAllowed(t *testing.T) {
	f := startFleet(t)
	a := token(t, hostA)
	host := f.connect(t, a)

	t.Run("publish own health and prune results", func(t *testing.T) {
		for _, subject := range []string{f.subj.Health(a), f.subj.Prune(a, events.PruneDeleted), f.subj.Prune(a, events.PruneSkipped),
			f.subj.Prune(a, events.PruneFailed), f.subj.Prune(a, events.PrunePlanned)} {
			watch := f.orch.sub(t, subject)
			f.orch.clean(t)
			if err := host.nc.Publish(subject, []byte("{}")); err != nil {
				t.Fatal(err)
			}
			if m := next(t, watch); m.Subject != subject {
				t.Errorf("Got(delivered subject) = %s, want %s", m.Subject, subject)
			}
		}
		host.clean(t)
	})

	t.Run("answer a command through its reply subject", func(t *testing.T) {
		cmds := host.sub(t, f.subj.HostCommands(a))
		host.clean(t)
		done := make(chan error, 1)
		go func() {
			m, err := cmds.NextMsg(waitFor)
			if err == nil {
				err = m.Respond([]byte("ok"))
			}
			done <- err
		}()
		reply, err := f.orch.nc.Request(f.subj.Command(a, events.VerbCheck), []byte("{}"), waitFor)
		if err != nil {
			t.Fatalf("Got(orchestrator request to %s) = %v, want a reply", a, err)
		}
		if string(reply.Data) != "ok" {
			t.Errorf("Got(reply) = %q, want ok", reply.Data)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		host.clean(t)
	})

	t.Run("read the spec bucket: get, watch and history", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if _, err := f.bkts.Spec.Put(ctx, events.SpecKey, []byte(`{"v":1}`)); err != nil {
			t.Fatal(err)
		}
		js, err := jetstream.New(host.nc)
		if err != nil {
			t.Fatal(err)
		}
		kv, err := js.KeyValue(ctx, events.BucketSpec)
		if err != nil {
			t.Fatalf("Got(host: bind spec bucket) = %v, want nil", err)
		}
		e, err := kv.Get(ctx, events.SpecKey)
		if err != nil || string(e.Value()) != `{"v":1}` {
			t.Fatalf("Got(host: get spec) = %v, %v, want {\"v\":1}", e, err)
		}
		w, err := kv.Watch(ctx, events.SpecKey)
		if err != nil {
			t.Fatalf("Got(host: watch spec) = %v, want nil", err)
		}
		wantUpdate(t, w, `{"v":1}`)
		if _, err := f.bkts.Spec.Put(ctx, events.SpecKey, []byte(`{"v":2}`)); err != nil {
			t.Fatal(err)
		}
		wantUpdate(t, w, `{"v":2}`)
		if err := w.Stop(); err != nil {
			t.Fatal(err)
		}
		// The spec keys' history, for the prune's removal grace.
		if _, err := f.bkts.Spec.Put(ctx, events.NextSpecKey, []byte(`{"v":3}`)); err != nil {
			t.Fatal(err)
		}
		if _, err := new(bus.SpecHistoryCache).Load(ctx, kv); err != nil {
			t.Fatalf("Got(host: read the spec history) = %v, want nil", err)
		}
		host.clean(t)
	})

	t.Run("cannot write the spec bucket", func(t *testing.T) {
		c := f.connect(t, a)
		js, err := jetstream.New(c.nc)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		kv, err := js.KeyValue(ctx, events.BucketSpec)
		if err != nil {
			t.Fatal(err)
		}
		// The denied publish never reaches JetStream, so no ack comes back:
		// the put fails on its own (short) deadline after the violation.
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		defer pcancel()
		if _, err := kv.Put(pctx, events.SpecKey, []byte(`{"evil":true}`)); err == nil {
			t.Fatal("Got(host: put spec) = nil, want an error")
		}
		c.violation(t, "$KV."+events.BucketSpec+"."+events.SpecKey)
		e, err := f.bkts.Spec.Get(ctx, events.SpecKey)
		if err == nil && string(e.Value()) == `{"evil":true}` {
			t.Fatal("Got(spec after host put) = the host's value, want it unchanged")
		}
	})
}

func wantUpdate(t *testing.T, w jetstream.KeyWatcher, want string) {
	t.Helper()
	timer := time.NewTimer(waitFor)
	defer timer.Stop()
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				t.Fatal("watcher closed")
			}
			if e == nil { // end of the initial values
				continue
			}
			if string(e.Value()) != want {
				t.Fatalf("Got(watched spec) = %s, want %s", e.Value(), want)
			}
			return
		case <-timer.C:
			t.Fatalf("Got(watched spec) = nothing within %s, want %s", waitFor, want)
		}
	}
}

// TestOrchestrator: the orchestrator commands hosts and owns JetStream (the
// fixture already created the stream and buckets), but cannot pose as a host.
func TestOrchestrator(t *testing.T) {
	f := startFleet(t)
	a := token(t, hostA)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	t.Run("publishes commands, builds and readiness", func(t *testing.T) {
		host := f.connect(t, a)
		cmds := host.sub(t, f.subj.HostCommands(a))
		host.clean(t)
		for _, subject := range []string{f.subj.Command(a, events.VerbPrune), f.subj.Build("14", events.BuildRequested), f.subj.Readiness()} {
			if err := f.orch.nc.Publish(subject, []byte("{}")); err != nil {
				t.Fatal(err)
			}
		}
		if m := next(t, cmds); m.Subject != f.subj.Command(a, events.VerbPrune) {
			t.Errorf("Got(host received) = %s, want the prune command", m.Subject)
		}
		f.orch.clean(t)
	})
	t.Run("uses its buckets and stream", func(t *testing.T) {
		if _, err := f.bkts.Builds.Put(ctx, "img", []byte("{}")); err != nil {
			t.Fatal(err)
		}
		if _, err := f.bkts.Leader.Create(ctx, "leader", []byte("me")); err != nil {
			t.Fatal(err)
		}
		if _, err := f.js.Publish(ctx, f.subj.Build("14", events.BuildRequested), []byte("{}")); err != nil {
			t.Fatal(err)
		}
		// As the orchestrator follows health: a durable pull consumer, made afresh.
		host := f.connect(t, a)
		if err := host.nc.Publish(f.subj.Health(a), []byte("{}")); err != nil {
			t.Fatal(err)
		}
		host.clean(t)
		name := "orchestrator-test"
		if err := f.js.DeleteConsumer(ctx, events.StreamName, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			t.Fatalf("Got(orchestrator: delete consumer) = %v, want nil or not found", err)
		}
		c, err := f.js.CreateConsumer(ctx, events.StreamName, jetstream.ConsumerConfig{Durable: name,
			DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy, AckPolicy: jetstream.AckNonePolicy, FilterSubject: f.subj.AllHealth()})
		if err != nil {
			t.Fatalf("Got(orchestrator: durable consumer) = %v, want nil", err)
		}
		got := make(chan string, 1)
		cc, err := c.Consume(func(m jetstream.Msg) {
			select {
			case got <- m.Subject():
			default:
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Stop()
		select {
		case s := <-got:
			if s != f.subj.Health(a) {
				t.Errorf("Got(consumed) = %s, want %s", s, f.subj.Health(a))
			}
		case <-ctx.Done():
			t.Fatal("Got(consumed) = nothing, want the host's health")
		}
		f.orch.clean(t)
	})
	t.Run("cannot pose as a host", func(t *testing.T) {
		o := f.connect(t, "orchestrator")
		subject := f.subj.Health(a)
		if err := o.nc.Publish(subject, []byte("{}")); err != nil {
			t.Fatal(err)
		}
		o.violation(t, subject)
	})
	t.Run("cannot touch other streams", func(t *testing.T) {
		o := f.connect(t, "orchestrator")
		js, _ := jetstream.New(o.nc)
		sctx, scancel := context.WithTimeout(ctx, time.Second)
		defer scancel()
		if _, err := js.CreateStream(sctx, jetstream.StreamConfig{Name: "OTHER", Subjects: []string{"other.>"}}); err == nil {
			t.Fatal("Got(orchestrator: create stream OTHER) = nil, want an error")
		}
		o.violation(t, "$JS.API.STREAM.CREATE.OTHER")
	})
}

// TestConsumerReadOnly: a consumer identity sees every event and can replay
// the stream, but publishes nothing and writes nothing.
func TestConsumerReadOnly(t *testing.T) {
	f := startFleet(t)
	a := token(t, hostA)
	c := f.connect(t, "dashboard")
	all := c.sub(t, f.subj.All())
	c.clean(t)
	host := f.connect(t, a)
	if _, err := jetstream.New(host.nc); err != nil {
		t.Fatal(err)
	}
	if err := host.nc.Publish(f.subj.Health(a), []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if m := next(t, all); m.Subject != f.subj.Health(a) {
		t.Errorf("Got(consumer received) = %s, want %s", m.Subject, f.subj.Health(a))
	}
	t.Run("replays the stream", func(t *testing.T) {
		js, err := c.nc.JetStream() // push ordered consumer, as an event tail uses
		if err != nil {
			t.Fatal(err)
		}
		sub, err := js.SubscribeSync(f.subj.AllHealth(), nats.BindStream(events.StreamName), nats.OrderedConsumer(), nats.DeliverAll())
		if err != nil {
			t.Fatalf("Got(consumer: ordered consumer on %s) = %v, want nil", events.StreamName, err)
		}
		if m := next(t, sub); m.Subject != f.subj.Health(a) {
			t.Errorf("Got(replayed) = %s, want %s", m.Subject, f.subj.Health(a))
		}
		if err := sub.Unsubscribe(); err != nil {
			t.Fatal(err)
		}
		c.clean(t)
	})
	for _, subject := range []string{f.subj.Health(a), f.subj.Command(a, events.VerbCheck), "$KV." + events.BucketSpec + ".current",
		"$JS.API.STREAM.DELETE." + events.StreamName, "$JS.API.STREAM.PURGE." + events.StreamName, "$JS.API.CONSUMER.MSG.NEXT." + events.StreamName + ".orchestrator"} {
		t.Run("cannot publish "+subject, func(t *testing.T) {
			d := f.connect(t, "dashboard")
			if err := d.nc.Publish(subject, []byte("{}")); err != nil {
				t.Fatal(err)
			}
			d.violation(t, subject)
		})
	}
}

// TestReplyReflection documents what permissions cannot stop: nats-server
// does not check reply subjects, so a host can have JetStream send its API
// response (or a publish ack) to another host's command subject. The host
// picks the subject, not the payload: JetStream's JSON is neither a vmfleet
// CloudEvent nor a valid prune, pull or force request (it can pass for a
// bare check request, which is harmless).
func TestReplyReflection(t *testing.T) {
	f := startFleet(t)
	a, b := token(t, hostA), token(t, hostB)
	victim := f.connect(t, b)
	cmds := victim.sub(t, f.subj.HostCommands(b))
	victim.clean(t)
	attacker := f.connect(t, a)
	valid := map[string]func([]byte) error{
		events.VerbPrune: func(d []byte) error {
			_, err := events.DecodeEither[events.PruneRequest](d, events.CommandType(events.VerbPrune))
			return err
		},
		events.VerbPull: func(d []byte) error {
			_, err := events.DecodeEither[events.PullRequest](d, events.CommandType(events.VerbPull))
			return err
		},
		events.VerbForce: func(d []byte) error {
			_, err := events.DecodeEither[events.ForceRequest](d, events.CommandType(events.VerbForce))
			return err
		},
	}
	for verb, decode := range valid {
		for _, api := range []string{"$JS.API.STREAM.INFO.KV_" + events.BucketSpec, f.subj.Health(a)} {
			if err := attacker.nc.PublishRequest(api, f.subj.Command(b, verb), []byte("{}")); err != nil {
				t.Fatal(err)
			}
			m := next(t, cmds)
			if _, err := events.Decode(m.Data); err == nil {
				t.Errorf("Got(events.Decode(reflected %s reply)) = nil, want an error: %s", api, m.Data)
			}
			if err := decode(m.Data); err == nil {
				t.Errorf("Got(reflected %s reply as a %s request) = valid, want invalid: %s", api, verb, m.Data)
			}
		}
	}
	attacker.clean(t)
}
