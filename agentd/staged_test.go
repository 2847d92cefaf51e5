package agentd

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/agentd/bkagent"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/internal/bus/bustest"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

// sized is a local VM of size gb.
func sized(n string, gb int) events.VM {
	v := local(n)
	v.DiskGB, v.SizeGB = 50, gb
	return v
}

// freeDisk is a disk of 1 TB whose free space is what *free holds, in GiB.
func freeDisk(free *atomic.Int64) func(string) *events.Disk {
	return func(path string) *events.Disk {
		return &events.Disk{Path: path, FreeBytes: free.Load() * gib, TotalBytes: 1000 * gib}
	}
}

// stagedSpec is testSpec with another bootstrap.
func stagedSpec(bootstrap string, releases ...string) *events.Spec {
	s := testSpec()
	s.BootstrapVersion = bootstrap
	if len(releases) > 0 {
		s.Releases = releases
	}
	return &events.Spec{Images: s, UpdatedAt: time.Now()}
}

type stagedVerdict struct {
	Release string
	Ready   bool
	Reason  events.Reason
}

func stagedVerdicts(h events.HostHealth) []stagedVerdict {
	var out []stagedVerdict
	for _, r := range h.Staged {
		out = append(out, stagedVerdict{r.Release, r.Ready, r.Reason})
	}
	return out
}

func sameVerdicts(a, b []stagedVerdict) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The staged spec's images are evaluated from the same listing as the
// current spec's: ready, missing, no_space when the image would not fit
// beside the host's images, tart_error when tart fails; the current
// spec's statuses are unchanged by it.
func TestCheckEvaluatesStagedImages(t *testing.T) {
	t.Parallel()
	f := tarttest.NewFake("")
	f.Add(sized(name("13", "1.2.16", "3.6"), 40), sized(name("14", "1.2.16", "3.6"), 40), sized(name("14", "1.2.16", "3.7"), 41))
	var free atomic.Int64
	free.Store(100)
	a := newAgent(t, testConfig(t), f)
	a.disk = freeDisk(&free)

	if h := mustCheck(t, a); h.Staged != nil || h.NextRevision != 0 {
		t.Fatalf("Got(staged without a rollout) = %+v rev %d, want none", h.Staged, h.NextRevision)
	}
	a.useNext(stagedSpec("3.7"), 7)
	h := mustCheck(t, a)
	want := []stagedVerdict{{"13", false, events.ReasonImageMissing}, {"14", true, events.ReasonReady}}
	if got := stagedVerdicts(h); !sameVerdicts(got, want) || h.NextRevision != 7 {
		t.Errorf("Got(staged) = %v rev %d, want %v rev 7", got, h.NextRevision, want)
	}
	if !h.Ready || h.Releases[0].Reason != events.ReasonReady || h.Releases[1].Reason != events.ReasonReady {
		t.Errorf("Got(current statuses) = %+v, want both ready", h.Releases)
	}
	if got := h.Staged[0].ExpectedImage; got != name("13", "1.2.16", "3.7") {
		t.Errorf("Got(staged expected image) = %s, want the staged spec's", got)
	}
	if err := h.Validate(); err != nil {
		t.Errorf("Got(Validate) = %v, want nil", err)
	}

	// 30 GiB free, the current 13 image takes 40: no room for its successor.
	free.Store(30)
	h = mustCheck(t, a)
	if st := h.Staged[0]; st.Reason != events.ReasonNoSpace || st.Ready || !strings.Contains(st.Detail, "after promotion") {
		t.Errorf("Got(staged 13 on a full disk) = %+v, want no_space", st)
	}
	if st := h.Staged[1]; st.Reason != events.ReasonReady {
		t.Errorf("Got(staged 14 on a full disk) = %+v, want ready (it is there)", st)
	}
	if !h.Ready {
		t.Errorf("Got(ready) = false, want the current spec ready whatever the staged one")
	}

	// The cleanup policy's emergency threshold is kept free too.
	free.Store(60)
	a.useSpec(&events.Spec{Images: testSpec(), Cleanup: events.CleanupPolicy{DiskEmergencyFreeBytes: 30 * gib}}, 3)
	if st := mustCheck(t, a).Staged[0]; st.Reason != events.ReasonNoSpace {
		t.Errorf("Got(staged 13 eating into the emergency reserve) = %+v, want no_space", st)
	}
	a.useSpec(nil, 0)

	// Two missing images: the second counts the first as taken.
	a.useNext(stagedSpec("3.8"), 8)
	h = mustCheck(t, a)
	want = []stagedVerdict{{"13", false, events.ReasonImageMissing}, {"14", false, events.ReasonNoSpace}}
	if got := stagedVerdicts(h); !sameVerdicts(got, want) {
		t.Errorf("Got(two missing on 60 GiB) = %v, want %v", got, want)
	}

	f.FailNext(tarttest.OpList, opErrForTest())
	want = []stagedVerdict{{"13", false, events.ReasonTartError}, {"14", false, events.ReasonTartError}}
	if got := stagedVerdicts(mustCheck(t, a)); !sameVerdicts(got, want) {
		t.Errorf("Got(staged when tart fails) = %v, want %v", got, want)
	}

	a.useNext(nil, 0)
	if h := mustCheck(t, a); h.Staged != nil || h.NextRevision != 0 {
		t.Errorf("Got(staged after the rollout ended) = %+v rev %d, want none", h.Staged, h.NextRevision)
	}
}

// A pull of an image only the staged spec wants is refused, before tart is
// asked to clone or delete anything, when it would not fit; a current
// image is pulled whatever the disk, and a staged one once there is room.
func TestPullOfStagedImageNeedsRoom(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Images.Registry = "ghcr.io/acme/bun-build-macos-{release}:{bun}-bootstrap-{bootstrap}"
	f := tarttest.NewFake("")
	f.Add(sized(name("14", "1.2.16", "3.6"), 40))
	var free atomic.Int64
	free.Store(10)
	a := newAgent(t, cfg, f, WithMemoryState())
	a.disk = freeDisk(&free)
	next := stagedSpec("3.7")
	next.Images.Registry = cfg.Images.Registry
	a.useNext(next, 5)
	cur, _ := a.Spec()
	pull := func(s events.ImageSpec, r string) events.PullRequest {
		return events.PullRequest{Source: s.RegistryRef(r), Name: s.ImageName(r)}
	}

	h, err := a.Pull(context.Background(), pull(next.Images, "14"))
	if !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Got(staged pull on a full disk) = %v, want ErrNoSpace", err)
	}
	if f.Calls(tarttest.OpClone) != 0 || f.Calls(tarttest.OpDelete) != 0 || !f.Has(name("14", "1.2.16", "3.6")) {
		t.Errorf("Got(tart) = %d clones, %d deletes, current image kept %v; want nothing touched", f.Calls(tarttest.OpClone), f.Calls(tarttest.OpDelete), f.Has(name("14", "1.2.16", "3.6")))
	}
	if st, ok := h.StagedStatus("14"); !ok || st.Reason != events.ReasonNoSpace {
		t.Errorf("Got(health beside the refusal) = %+v, want staged 14 no_space", h.Staged)
	}
	if r := errReply(err); r.Code != events.CodeNoSpace {
		t.Errorf("Got(reply code) = %s, want %s", r.Code, events.CodeNoSpace)
	}
	if err := a.RoomFor(context.Background(), next.Images.ImageName("13")); !errors.Is(err, ErrNoSpace) {
		t.Errorf("Got(RoomFor a staged build on a full disk) = %v, want ErrNoSpace", err)
	}

	// A current image heals the spec in force: pulled whatever the disk.
	if err := a.RoomFor(context.Background(), cur.ImageName("13")); err != nil {
		t.Errorf("Got(RoomFor a current build) = %v, want nil", err)
	}
	if _, err := a.Pull(context.Background(), pull(cur, "13")); err != nil || !f.Has(cur.ImageName("13")) {
		t.Errorf("Got(current pull on a full disk) = %v, want it pulled", err)
	}

	free.Store(200)
	h, err = a.Pull(context.Background(), pull(next.Images, "14"))
	if err != nil || !f.Has(next.Images.ImageName("14")) {
		t.Fatalf("Got(staged pull with room) = %v, want it pulled", err)
	}
	if st, _ := h.StagedStatus("14"); st.Reason != events.ReasonReady {
		t.Errorf("Got(staged 14 after the pull) = %+v, want ready", st)
	}
	// Once held, the image needs no room: a repeated pull is still ok.
	free.Store(1)
	if _, err := a.Pull(context.Background(), pull(next.Images, "14")); err != nil {
		t.Errorf("Got(repeated staged pull) = %v, want nil (already there)", err)
	}
}

// tagsOf applies bkagent's tags, as levers supervise and command do.
type tagsOf struct{}

func (tagsOf) Apply(_ context.Context, h events.HostHealth) ([]string, error) {
	return bkagent.Tags(h, bkagent.TagOptions{}), nil
}

func hasTag(h events.HostHealth, tag string) bool {
	for _, t := range h.BuildkiteTags {
		if t == tag {
			return true
		}
	}
	return false
}

func putKey(t *testing.T, kv jetstream.KeyValue, key string, b []byte) uint64 {
	t.Helper()
	rev, err := kv.Put(context.Background(), key, b)
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

// The agent follows key next through the real server as it follows key
// current: a staged spec is evaluated and tagged, an invalid one leaves the
// last good one in force, a deleted one ends the rollout; a pull command
// for a staged image without room answers no_space.
func TestRunFollowsStagedSpec(t *testing.T) {
	t.Parallel()
	s := bustest.Server(t, "")
	nc := bustest.Conn(t, s)
	js, _ := jetstream.New(nc)
	b, err := bus.EnsureBuckets(context.Background(), js, 1, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	cur := name("14", "1.2.16", "3.6")
	staged := name("14", "1.2.16", "3.7")
	curRev := putSpec(t, b.Spec, "3.6")
	f := tarttest.NewFake("")
	f.Add(sized(cur, 40))
	var free atomic.Int64
	free.Store(10)
	a := newAgent(t, slowConfig(t), f, WithConn(agentConn(t, s, 50*time.Millisecond)), WithSpecRetry(20*time.Millisecond), WithTagApplier(tagsOf{}))
	a.disk = freeDisk(&free)
	sub := subscribeHealth(t, nc, a.Host())
	runAgent(t, a)
	h, _ := sub.next(10*time.Second, "a check against the KV spec", func(h events.HostHealth) bool { return h.SpecRevision == curRev })
	if !hasTag(h, "vm-ready-macos-14=true") || !hasTag(h, "vm-image-"+cur+"=true") {
		t.Errorf("Got(tags) = %v, want vm-ready-macos-14 and the current image's tag", h.BuildkiteTags)
	}

	next := stagedSpec("3.7", "14")
	nextRev := putKey(t, b.Spec, events.NextSpecKey, mustJSON(t, next))
	h, _ = sub.next(10*time.Second, "a check against the staged spec", func(h events.HostHealth) bool { return h.NextRevision == nextRev })
	if st, _ := h.StagedStatus("14"); st.Reason != events.ReasonNoSpace || h.SpecRevision != curRev {
		t.Errorf("Got(staged) = %+v at spec %d, want no_space beside spec %d", h.Staged, h.SpecRevision, curRev)
	}

	// The pull command answers no_space and touches nothing.
	req := events.PullRequest{Source: "ghcr.io/acme/img:3.7", Name: staged}
	r := request(t, nc, cmdSubject(a, events.VerbPull), command(t, events.VerbPull, req))
	if r.OK || r.Code != events.CodeNoSpace || r.Health == nil || r.Health.Staged[0].Reason != events.ReasonNoSpace {
		t.Errorf("Got(pull reply) = %+v, want no_space with the health", r)
	}
	if f.Calls(tarttest.OpClone) != 0 || f.Calls(tarttest.OpDelete) != 0 {
		t.Errorf("Got(tart) = %d clones, %d deletes, want none", f.Calls(tarttest.OpClone), f.Calls(tarttest.OpDelete))
	}

	// With room the pull goes through: both images are tagged, the
	// current spec's readiness tag is unchanged.
	free.Store(500)
	r = request(t, nc, cmdSubject(a, events.VerbPull), command(t, events.VerbPull, req))
	if !r.OK || r.Health == nil {
		t.Fatalf("Got(pull reply with room) = %+v, want ok", r)
	}
	h, _ = sub.next(10*time.Second, "the staged image ready", func(h events.HostHealth) bool { return len(h.Staged) == 1 && h.Staged[0].Ready })
	for _, tag := range []string{"vm-ready-macos-14=true", "vm-image-" + cur + "=true", "vm-image-" + staged + "=true", "vm-image-macos-14=" + cur} {
		if !hasTag(h, tag) {
			t.Errorf("Got(tags with both images) = %v, want %s", h.BuildkiteTags, tag)
		}
	}

	// An invalid staged spec is ignored: the last good one stays. The
	// current spec put after it shows the watch has read past it.
	putKey(t, b.Spec, events.NextSpecKey, []byte(`{"images":{"releases":["14"],"bun_version":"1.2.x y","bootstrap_version":"3.8"}}`))
	curRev = putSpec(t, b.Spec, "3.6")
	h, _ = sub.next(10*time.Second, "a check after the invalid staged spec", func(h events.HostHealth) bool { return h.SpecRevision == curRev })
	if h.NextRevision != nextRev || len(h.Staged) != 1 || h.Staged[0].ExpectedImage != staged {
		t.Errorf("Got(after an invalid staged spec) = rev %d %+v, want the last good one (rev %d)", h.NextRevision, h.Staged, nextRev)
	}

	if err := b.Spec.Delete(context.Background(), events.NextSpecKey); err != nil {
		t.Fatal(err)
	}
	h, _ = sub.next(10*time.Second, "the rollout ended", func(h events.HostHealth) bool { return h.NextRevision == 0 })
	if h.Staged != nil || hasTag(h, "vm-image-"+staged+"=true") || !hasTag(h, "vm-image-"+cur+"=true") {
		t.Errorf("Got(after the staged spec was deleted) = %+v tags %v, want no staged image and its tag gone", h.Staged, h.BuildkiteTags)
	}
}

// A prune request naming a staged image is re-planned by the agent with the
// staged spec: the image is kept (staged_image), even with --now.
func TestPruneKeepsStagedImages(t *testing.T) {
	t.Parallel()
	f := tarttest.NewFake("")
	staged := name("14", "1.2.16", "3.7")
	f.Add(local(name("13", "1.2.16", "3.6")), local(name("14", "1.2.16", "3.6")), local(staged))
	a := newAgent(t, testConfig(t), f, WithMemoryState())
	req := events.PruneRequest{VMs: []string{staged}, Now: true}

	a.useNext(stagedSpec("3.7", "14"), 4)
	out, _, err := a.Prune(context.Background(), req)
	if err != nil || len(out) != 1 || out[0].Result != events.PruneSkipped || !strings.Contains(out[0].Reason, "staged_image") || !f.Has(staged) {
		t.Fatalf("Got(prune of a staged image) = %+v, %v, want skipped by staged_image and the VM kept", out, err)
	}
	// Without the rollout the same request deletes it: the staged spec kept it.
	a.useNext(nil, 0)
	if out, _, err := a.Prune(context.Background(), req); err != nil || len(out) != 1 || out[0].Result != events.PruneDeleted {
		t.Errorf("Got(prune once the rollout ended) = %+v, %v, want deleted", out, err)
	}
}
