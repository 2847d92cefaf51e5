package orchestrator

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
	"github.com/vmfleet/vmfleet/orchestrator/hosts"
)

func TestDeriveHost(t *testing.T) {
	im := testImages()
	older := im
	older.BunVersion = "1.2.15"
	tests := []struct {
		name     string
		registry string
		pushed   bool
		mut      func(h *events.HostHealth)
		age      time.Duration
		builds   []string
		pulls    []string
	}{
		{name: "host mode: own build", builds: []string{builds.RecordKey(im.ImageName("14"), "mac-01")}},
		{name: "registry, not pushed: the fleet's build", registry: "ghcr.io/acme/img-{release}:{bun}-{bootstrap}", builds: []string{builds.RecordKey(im.ImageName("14"), "")}},
		{name: "registry, pushed: pull", registry: "ghcr.io/acme/img-{release}:{bun}-{bootstrap}", pushed: true, pulls: []string{"mac-01 ghcr.io/acme/img-14:1.2.16-3.6"}},
		{name: "stale host: nothing", age: 3 * time.Minute},
		{name: "bootstrap mismatch: own build", mut: func(h *events.HostHealth) { h.Releases[1].Reason = events.ReasonBootstrapMismatch },
			builds: []string{builds.RecordKey(im.ImageName("14"), "mac-01")}},
		{name: "tart error: nothing", mut: func(h *events.HostHealth) { h.Releases[1].Reason = events.ReasonTartError }},
		{name: "forced not ready: nothing", mut: func(h *events.HostHealth) { h.Releases[1].Reason = events.ReasonForcedNotReady }},
		{name: "host checks another spec: nothing", mut: func(h *events.HostHealth) { h.Releases[1].ExpectedImage = older.ImageName("14") }},
		{name: "release not in the spec: nothing", mut: func(h *events.HostHealth) { h.Releases[1].Release = "15" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Spec: events.Spec{Images: im}}
			cfg.Spec.Images.Registry = tt.registry
			o := newTestOrchestrator(t, &fakeBK{}, cfg, func() time.Time { return t0.Add(tt.age) })
			h := health("mac-01", "b", 1, t0)
			if tt.mut != nil {
				tt.mut(&h)
			}
			v := o.view()
			for i := range v.rels {
				v.rels[i].pushed = tt.pushed
			}
			var w wants
			w.reset()
			o.deriveHost("mac-01", &hosts.State{Health: &h, LastSeen: t0}, v, o.now(), &w)
			var builds, pulls []string
			for _, b := range w.builds {
				builds = append(builds, b.Key)
			}
			for _, p := range w.pulls {
				pulls = append(pulls, p.Host+" "+p.Ref)
			}
			if diff := cmp.Diff(tt.builds, builds); diff != "" {
				t.Errorf("Got(builds) diff (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.pulls, pulls); diff != "" {
				t.Errorf("Got(pulls) diff (-want +got):\n%s", diff)
			}
		})
	}
}

// A thousand hosts reporting the same missing image in one burst make one
// create, whatever the interleaving of passes.
func TestOneCreatePerKeyUnderBurst(t *testing.T) {
	bk := &fakeBK{}
	cfg := Config{Spec: events.Spec{Images: testImages()}}
	cfg.Spec.Images.Registry = "ghcr.io/acme/img-{release}:{bun}-{bootstrap}"
	o := newTestOrchestrator(t, bk, cfg, func() time.Time { return t0 })
	for i := range 1000 {
		h := health(hostName(i), "b", 1, t0)
		o.fleet.Ingest(o.subj.Health(h.Host), encode(t, h), t0)
		if i%50 == 0 {
			o.pass(context.Background(), i%100 == 0)
		}
	}
	o.pass(context.Background(), true)
	o.builds.Wait()
	o.pass(context.Background(), true)
	o.builds.Wait()
	if bk.Creates() != 1 {
		t.Errorf("Got(creates) = %d, want 1", bk.Creates())
	}
}

func hostName(i int) string {
	const digits = "0123456789"
	return "mac-" + string([]byte{digits[i/10000%10], digits[i/1000%10], digits[i/100%10], digits[i/10%10], digits[i%10]})
}
