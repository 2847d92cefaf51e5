package events

import "testing"

func TestIsComputedTagKey(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]bool{
		"vm-ready": true, "vm-ready-macos-14": true, "vmfleet-host": true, "vm-image-macos-14": true,
		ImageTagKey("bun-build-macos-14-1.2.16-bootstrap-3.7"): true,
		"queue": false, "arch": false, "vm-imagery": false, "vm-readyx": false,
	} {
		if got := IsComputedTagKey(key); got != want {
			t.Errorf("Got(IsComputedTagKey(%q)) = %v, want %v", key, got, want)
		}
	}
}

func TestSpecAutoPromoteIsAShare(t *testing.T) {
	t.Parallel()
	for share, ok := range map[float64]bool{0: true, 0.9: true, 1: true, -0.1: false, 1.5: false} {
		s := Spec{Images: DefaultImageSpec(), AutoPromote: share}
		if err := s.Validate(); (err == nil) != ok {
			t.Errorf("Got(Validate with auto_promote %v) = %v, want ok %v", share, err, ok)
		}
	}
}
