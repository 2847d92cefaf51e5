package rollout

import (
	"testing"

	"github.com/vmfleet/vmfleet/events"
)

// BenchmarkPreview10k previews a bootstrap bump over 10,000 hosts holding
// the current images (the operator's wait before a set or promote).
func BenchmarkPreview10k(b *testing.B) {
	cur := testImages()
	to := withImages(func(im *events.ImageSpec) { im.BootstrapVersion = "3.7" })
	hosts := fleetOf(10000, cur, nil, cur)
	for _, h := range hosts { // room for one new image of two: both disk checks made
		h.Disk = &events.Disk{Path: "/", FreeBytes: 60e9, TotalBytes: 1000e9}
	}
	f := Fleet{Now: previewNow, Current: events.Spec{Images: cur}, Hosts: hosts}
	c := Change{Action: ActionSet, To: events.Spec{Images: to}}
	for b.Loop() {
		Preview(f, c)
	}
}
