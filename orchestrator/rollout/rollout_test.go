package rollout

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/internal/orchtest"
)

var testImages = orchtest.Images

func TestSpecUpdateApply(t *testing.T) {
	base := events.Spec{Images: testImages()}
	reg := ""
	got := SpecUpdate{BootstrapVersion: ptrTo("3.7"), Releases: []string{"14"}, Registry: &reg}.apply(base)
	want := base
	want.Images.BootstrapVersion, want.Images.Releases = "3.7", []string{"14"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Got(apply) diff (-want +got):\n%s", diff)
	}
	if got := (SpecUpdate{}).apply(base); !cmp.Equal(got, base) {
		t.Errorf("Got(empty update) = %+v, want the spec unchanged", got)
	}
}

func ptrTo[T any](v T) *T { return &v }

func TestMergeConfigSpec(t *testing.T) {
	win := func(s string) events.CleanupPolicy {
		return events.CleanupPolicy{Windows: []events.Window{{Schedule: s, Duration: events.Duration(time.Hour)}}}
	}
	images := func(bootstrap string) events.ImageSpec {
		im := testImages()
		im.BootstrapVersion = bootstrap
		return im
	}
	spec := func(bootstrap, window string) *events.Spec {
		return &events.Spec{Images: images(bootstrap), Cleanup: win(window)}
	}
	tests := []struct {
		name         string
		cfg          events.Spec
		stored, seed *events.Spec
		want         events.Spec
	}{
		{name: "nothing stored: the config", cfg: *spec("3.6", "0 3 * * *"), want: *spec("3.6", "0 3 * * *")},
		{name: "no seed (before seeds existed): the config", cfg: *spec("3.6", "0 3 * * *"),
			stored: spec("3.7", "0 3 * * *"), want: *spec("3.6", "0 3 * * *")},
		{name: "config unchanged: the operator's spec", cfg: *spec("3.6", "0 3 * * *"),
			stored: spec("3.7", "0 3 * * *"), seed: spec("3.6", "0 3 * * *"), want: *spec("3.7", "0 3 * * *")},
		{name: "config's cleanup changed: it applies, the operator's images stay", cfg: *spec("3.6", "0 4 * * *"),
			stored: spec("3.7", "0 3 * * *"), seed: spec("3.6", "0 3 * * *"), want: *spec("3.7", "0 4 * * *")},
		{name: "config's images changed: they apply", cfg: *spec("3.8", "0 3 * * *"),
			stored: spec("3.7", "0 3 * * *"), seed: spec("3.6", "0 3 * * *"), want: *spec("3.8", "0 3 * * *")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MergeConfigSpec(tt.cfg, tt.stored, tt.seed)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Got(MergeConfigSpec) diff (-want +got):\n%s", diff)
			}
		})
	}
}
