package agentd

import (
	"errors"
	"testing"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

// WithDisk's measure is the disk a check reports and judges staged images
// by: a host whose simulated disk has no room gets staged no_space.
func TestWithDiskIsTheDiskChecked(t *testing.T) {
	t.Parallel()
	f := tarttest.NewFake("")
	f.Add(sized(name("13", "1.2.16", "3.6"), 40), sized(name("14", "1.2.16", "3.6"), 40))
	free := int64(500)
	a, err := New(testConfig(t), f, WithDisk(func(path string) *events.Disk {
		return &events.Disk{Path: path, FreeBytes: free * gib, TotalBytes: 1000 * gib}
	}))
	if err != nil {
		t.Fatal(err)
	}
	a.useNext(stagedSpec("3.7"), 3)
	h := mustCheck(t, a)
	if h.Disk == nil || h.Disk.FreeBytes != 500*gib || h.Disk.TotalBytes != 1000*gib {
		t.Fatalf("Got(disk) = %+v, want the measure's 500 of 1000 GiB", h.Disk)
	}
	if got := stagedVerdicts(h); len(got) != 2 || got[0].Reason != events.ReasonImageMissing || got[1].Reason != events.ReasonImageMissing {
		t.Errorf("Got(staged with room) = %v, want both image_missing", got)
	}
	free = 10
	if got := stagedVerdicts(mustCheck(t, a)); len(got) != 2 || got[0].Reason != events.ReasonNoSpace {
		t.Errorf("Got(staged without room) = %v, want no_space", got)
	}
	if _, err := New(testConfig(t), f, WithDisk(nil)); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("Got(New with a nil disk measure) = %v, want ErrInvalidOption", err)
	}
}
