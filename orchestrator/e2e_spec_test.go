package orchestrator_test

import (
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
)

func TestSpecChangeBuildsTheNewImage(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	spec := testSpec("")
	h.start(h.config(spec))
	readiness := h.collectMsgs("vmfleet.fleet.readiness")
	ag := h.addAgents(1, "mac", spec.Images)[0]
	oldKey := builds.RecordKey(spec.Images.ImageName("14"), ag.host)
	h.waitState(oldKey, events.BuildScheduled)
	h.bk.Step()
	h.bk.Step()
	h.waitFor("host ready", func() bool { return h.hostReady(ag.host) })
	h.waitFor("readiness: 1 of 1 hosts ready", func() bool {
		for _, m := range readiness() {
			env, err := events.Decode(m.Data)
			if err != nil {
				t.Fatal(err)
			}
			if r, err := events.DecodeData[events.FleetReadiness](env, events.TypeReadiness); err == nil && r.Hosts == 1 && r.Ready == 1 {
				return true
			}
		}
		return false
	})

	// `vmfleet spec set` writes KV; agents and the orchestrator follow it.
	next := spec
	next.Images.BunVersion = "1.2.17"
	b, _ := events.Encode(events.TypeSpec, "/test", events.SpecKey, "", h.clock.Now(), next)
	js, _ := jetstream.New(h.nc)
	kv, err := js.KeyValue(h.ctx, events.BucketSpec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(h.ctx, events.SpecKey, b); err != nil {
		t.Fatal(err)
	}
	newKey := builds.RecordKey(next.Images.ImageName("14"), ag.host)
	h.waitState(newKey, events.BuildScheduled)
	if got := h.o.Spec().Images.BunVersion; got != "1.2.17" {
		t.Errorf("Got(spec bun) = %s, want 1.2.17", got)
	}
	if got := h.bk.CreatedCount(oldKey); got != 1 {
		t.Errorf("Got(CreatedCount(old)) = %d, want 1", got)
	}
}

func TestRejectedEventsAreCountedNotFatal(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	spec := testSpec("")
	h.start(h.config(spec))
	good := events.HostHealth{Host: "mac-01", BootID: "b", Seq: 1, CheckedAt: h.clock.Now(), HeartbeatSeconds: 60}
	goodB, _ := events.Encode(events.TypeHostHealth, "/test", "mac-01", "", h.clock.Now(), good)
	for subject, data := range map[string][]byte{
		h.subj.Health("mac-01"): []byte("{garbage"),
		h.subj.Health("mac-02"): goodB,
	} {
		if err := h.nc.PublishMsg(&nats.Msg{Subject: subject, Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	h.waitFor("two rejections", func() bool {
		return h.metric("vmfleet_orchestrator_events_rejected_total", "reason", "decode") == 1 &&
			h.metric("vmfleet_orchestrator_events_rejected_total", "reason", "host_mismatch") == 1
	})
	h.publishHealth("mac-03", 1, spec.Images, true)
	h.waitFor("a good event after the bad ones", func() bool { return h.hostReady("mac-03") })
	if v, ok := h.o.Host("mac-03"); !ok || v.Health == nil {
		t.Errorf("Got(Host(mac-03)) = %+v, want its health", v)
	}
}
