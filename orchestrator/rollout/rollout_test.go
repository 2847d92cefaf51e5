package rollout

import (
	"testing"

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
