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
