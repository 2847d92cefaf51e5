package builds

import (
	"context"

	"github.com/vmfleet/vmfleet/events"
)

// Unblock starts again, from attempt 1, the blocked keys of the images of
// im: an operator who sets a spec wants its images built (the keys of
// images new to the spec have no record and need nothing).
func (m *Manager) Unblock(ctx context.Context, im events.ImageSpec) {
	want := map[string]bool{}
	for _, r := range im.Releases {
		want[im.ImageName(r)] = true
	}
	for _, r := range m.Records() {
		if r.State != events.BuildBlocked || !want[r.Image] {
			continue
		}
		if _, err := m.Retry(ctx, r.Key); err != nil {
			m.log.Warn("cannot unblock build key after spec set", "build", r.Key, "err", err)
			continue
		}
		m.log.Info("build key unblocked by spec set", "build", r.Key)
	}
}
