package bkagent

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/vmfleet/vmfleet/events"
)

func TestTags(t *testing.T) {
	t.Parallel()
	tartErr := rel("14", true, events.ReasonTartError) // Ready must not matter
	tartErr.Detail = "tart: command not found"
	tests := []struct {
		name string
		h    events.HostHealth
		opts TagOptions
		want []string
	}{
		{"single release ready: suffixed and seed names", ready14(), TagOptions{}, []string{
			"vm-bootstrap-version=3.6", "vm-bootstrap-version-macos-14=3.6",
			"vm-bun-version=1.2.16", "vm-bun-version-macos-14=1.2.16",
			"vm-image=" + img14, "vm-image-" + img14 + "=true", "vm-image-macos-14=" + img14,
			"vm-ready=true", "vm-ready-macos-14=true", "vmfleet-host=mini-1",
		}},
		{"single release missing", notReady14(), TagOptions{}, []string{
			"vm-bootstrap-version=3.6", "vm-bootstrap-version-macos-14=3.6",
			"vm-bun-version=1.2.16", "vm-bun-version-macos-14=1.2.16",
			"vm-image=" + img14, "vm-image-macos-14=" + img14,
			"vm-ready=false", "vm-ready-macos-14=false", "vmfleet-host=mini-1",
		}},
		{"two releases: no unsuffixed names", health(rel("14", false, events.ReasonBootstrapMismatch), rel("13", true, events.ReasonReady)), TagOptions{}, []string{
			"vm-bootstrap-version-macos-13=3.6", "vm-bootstrap-version-macos-14=3.6",
			"vm-bun-version-macos-13=1.2.16", "vm-bun-version-macos-14=1.2.16",
			"vm-image-" + img13 + "=true", "vm-image-macos-13=" + img13, "vm-image-macos-14=" + img14,
			"vm-ready-macos-13=true", "vm-ready-macos-14=false", "vmfleet-host=mini-1",
		}},
		{"tart error is not ready", health(tartErr), TagOptions{}, []string{
			"vm-bootstrap-version=3.6", "vm-bootstrap-version-macos-14=3.6",
			"vm-bun-version=1.2.16", "vm-bun-version-macos-14=1.2.16",
			"vm-image=" + img14, "vm-image-macos-14=" + img14,
			"vm-ready=false", "vm-ready-macos-14=false", "vmfleet-host=mini-1",
		}},
		{"forced ready is ready", health(rel("14", true, events.ReasonForcedReady)), TagOptions{}, []string{
			"vm-bootstrap-version=3.6", "vm-bootstrap-version-macos-14=3.6",
			"vm-bun-version=1.2.16", "vm-bun-version-macos-14=1.2.16",
			"vm-image=" + img14, "vm-image-macos-14=" + img14,
			"vm-ready=true", "vm-ready-macos-14=true", "vmfleet-host=mini-1",
		}},
		{"no releases: host only", health(), TagOptions{Operator: []string{"queue=darwin"}}, []string{
			"queue=darwin", "vmfleet-host=mini-1",
		}},
		{"operator tags merged; the operator wins on keys it declares", ready14(),
			TagOptions{Operator: []string{"queue=darwin", "arch=arm64", "vm-ready=false", "vmfleet-host=mini-seven"}}, []string{
				"arch=arm64", "queue=darwin",
				"vm-bootstrap-version=3.6", "vm-bootstrap-version-macos-14=3.6",
				"vm-bun-version=1.2.16", "vm-bun-version-macos-14=1.2.16",
				"vm-image=" + img14, "vm-image-" + img14 + "=true", "vm-image-macos-14=" + img14,
				"vm-ready=false", "vm-ready-macos-14=true", "vmfleet-host=mini-seven",
			}},
		{"values that cannot stand in a tag list are cleaned; empty ones left out",
			health(events.ReleaseStatus{Release: "14", ExpectedImage: "a,b c", Ready: true, Reason: events.ReasonReady, Bootstrap: "3.6"}),
			TagOptions{}, []string{
				"vm-bootstrap-version=3.6", "vm-bootstrap-version-macos-14=3.6",
				"vm-image=a_b_c", "vm-image-a_b_c=true", "vm-image-macos-14=a_b_c",
				"vm-ready=true", "vm-ready-macos-14=true", "vmfleet-host=mini-1",
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Tags(tc.h, tc.opts)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Got(Tags) = %v, want %v; diff (-want +got):\n%s", got, tc.want, diff)
			}
		})
	}
}

func TestTagsQueueRouting(t *testing.T) {
	t.Parallel()
	mixed := health(rel("13", true, events.ReasonReady), rel("14", false, events.ReasonImageMissing))
	both := health(rel("13", true, events.ReasonReady), rel("14", true, events.ReasonReady))
	none := health(rel("13", false, events.ReasonTartError), rel("14", false, events.ReasonTartError))
	tests := []struct {
		name string
		h    events.HostHealth
		when QueueWhen
		want string
	}{
		{"all ready, mode all", both, "", "queue=darwin-ready"},
		{"one of two, mode all", mixed, QueueWhenAll, "queue=darwin-prep"},
		{"one of two, mode any", mixed, QueueWhenAny, "queue=darwin-ready"},
		{"none, mode any", none, QueueWhenAny, "queue=darwin-prep"},
		{"no releases, mode all", health(), "", "queue=darwin-prep"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := TagOptions{ReadyQueue: "darwin-ready", NotReadyQueue: "darwin-prep", QueueWhen: tc.when, Operator: []string{"arch=arm64"}}
			if err := opts.Validate(); err != nil {
				t.Fatalf("Got(Validate) = %v, want nil", err)
			}
			got := Tags(tc.h, opts)
			var queues []string
			for _, tag := range got {
				if strings.HasPrefix(tag, "queue=") {
					queues = append(queues, tag)
				}
			}
			if diff := cmp.Diff([]string{tc.want}, queues); diff != "" {
				t.Errorf("Got(queue tags) = %v, want [%s]", queues, tc.want)
			}
		})
	}
}

// TestTagsStableAcrossChecks: what changes between two checks of an unchanged
// host (time, sequence, reason detail, release order, inventory) never changes
// the tags, so it never restarts the agent.
func TestTagsStableAcrossChecks(t *testing.T) {
	t.Parallel()
	a := health(rel("13", false, events.ReasonImageMissing), rel("14", true, events.ReasonReady))
	b := health(rel("14", true, events.ReasonReady), rel("13", false, events.ReasonBootstrapMismatch))
	b.Releases[1].Detail = "found something else"
	b.CheckedAt, b.Seq = a.CheckedAt.Add(time.Hour), 99
	b.VMs = []events.VM{{Name: img14, Source: "local"}}
	ta, tb := Tags(a, TagOptions{}), Tags(b, TagOptions{})
	if !slices.Equal(ta, tb) {
		t.Errorf("Got(Tags of the second check) = %v, want %v", tb, ta)
	}
}

func TestTagOptionsValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts TagOptions
		ok   bool
	}{
		{"empty", TagOptions{}, true},
		{"operator tags", TagOptions{Operator: []string{"queue=darwin", "os=macos=14"}}, true},
		{"routing", TagOptions{ReadyQueue: "darwin-ready", NotReadyQueue: "darwin-prep", QueueWhen: QueueWhenAny}, true},
		{"no equals", TagOptions{Operator: []string{"darwin"}}, false},
		{"empty value", TagOptions{Operator: []string{"queue="}}, false},
		{"comma", TagOptions{Operator: []string{"queue=a,b"}}, false},
		{"space in key", TagOptions{Operator: []string{"my queue=a"}}, false},
		{"duplicate key", TagOptions{Operator: []string{"queue=a", "queue=b"}}, false},
		{"only a ready queue", TagOptions{ReadyQueue: "darwin-ready"}, false},
		{"routing and an operator queue", TagOptions{ReadyQueue: "r", NotReadyQueue: "p", Operator: []string{"queue=darwin"}}, false},
		{"bad queue", TagOptions{ReadyQueue: "r r", NotReadyQueue: "p"}, false},
		{"bad mode", TagOptions{QueueWhen: "most"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.opts.Validate()
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalidOption)) {
				t.Errorf("Got(Validate(%+v)) = %v, want ok=%v (else ErrInvalidOption)", tc.opts, err, tc.ok)
			}
		})
	}
}

func TestEqualAndParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b []string
		want bool
	}{
		{nil, nil, true},
		{nil, []string{}, true},
		{[]string{"a=1", "b=2"}, []string{"b=2", "a=1"}, true},
		{[]string{"a=1", "b=2"}, []string{"a=1", "b=3"}, false},
		{[]string{"a=1"}, []string{"a=1", "b=2"}, false},
	}
	for _, tc := range tests {
		if got := Equal(tc.a, tc.b); got != tc.want {
			t.Errorf("Got(Equal(%v, %v)) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
	got, err := Parse(" queue=darwin, vm-ready=true,,")
	if want := []string{"queue=darwin", "vm-ready=true"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("Got(Parse) = %v, %v, want %v", got, err, want)
	}
	if _, err := Parse("queue=darwin,oops"); !errors.Is(err, ErrInvalidTag) {
		t.Errorf("Got(Parse of a tag without '=') = %v, want ErrInvalidTag", err)
	}
}

// TestTagsProperties: for any health and valid options, the tags round-trip
// through BUILDKITE_AGENT_TAGS, keys are unique, the order is sorted, and the
// operator's tags are all there.
func TestTagsProperties(t *testing.T) {
	t.Parallel()
	reasons := []events.Reason{events.ReasonReady, events.ReasonImageMissing, events.ReasonBootstrapMismatch,
		events.ReasonTartError, events.ReasonForcedReady, events.ReasonForcedNotReady}
	rapid.Check(t, func(t *rapid.T) {
		rels := rapid.SliceOfDistinct(rapid.StringMatching(`[0-9]{2}(\.[0-9])?`), func(s string) string { return s }).Draw(t, "releases")
		var rs []events.ReleaseStatus
		for _, r := range rels {
			st := rel(r, rapid.Bool().Draw(t, "ready"), rapid.SampledFrom(reasons).Draw(t, "reason"))
			st.ExpectedImage = rapid.String().Draw(t, "image")
			rs = append(rs, st)
		}
		opts := TagOptions{Operator: rapid.SliceOfDistinct(rapid.StringMatching(`[a-z][a-z-]{0,8}=[a-z0-9]{1,4}`),
			func(s string) string { k, _, _ := strings.Cut(s, "="); return k }).Draw(t, "operator")}
		tags := Tags(health(rs...), opts)
		back, err := Parse(Format(tags))
		if err != nil || !slices.Equal(back, tags) {
			t.Fatalf("Got(Parse(Format(%v))) = %v, %v, want the same tags", tags, back, err)
		}
		keys := map[string]bool{}
		for _, tag := range tags {
			k, _, _ := strings.Cut(tag, "=")
			if keys[k] {
				t.Fatalf("Got(Tags) = %v, want unique keys (%q twice)", tags, k)
			}
			keys[k] = true
		}
		if !slices.IsSortedFunc(tags, compareTags) {
			t.Fatalf("Got(Tags) = %v, want sorted by key", tags)
		}
		for _, op := range opts.Operator {
			if !slices.Contains(tags, op) {
				t.Fatalf("Got(Tags) = %v, want the operator's %q", tags, op)
			}
		}
	})
}

// While two specs are active, every image the host holds ready gets its own
// vm-image-<name>=true tag, beside the current spec's readiness tags,
// which the staged spec never changes.
func TestTagsImagesOfBothSpecs(t *testing.T) {
	t.Parallel()
	staged := func(r string, ready bool, reason events.Reason) events.ReleaseStatus {
		st := rel(r, ready, reason)
		st.ExpectedImage, st.Bootstrap = "bun-build-macos-"+r+"-1.2.16-bootstrap-3.7", "3.7"
		return st
	}
	img14next := "bun-build-macos-14-1.2.16-bootstrap-3.7"
	tests := []struct {
		name      string
		h         events.HostHealth
		want, not []string
	}{
		{"both images held", func() events.HostHealth {
			h := health(rel("13", true, events.ReasonReady), rel("14", true, events.ReasonReady))
			h.Staged = []events.ReleaseStatus{staged("13", false, events.ReasonNoSpace), staged("14", true, events.ReasonReady)}
			return h
		}(), []string{"vm-image-" + img13 + "=true", "vm-image-" + img14 + "=true", "vm-image-" + img14next + "=true", "vm-ready-macos-14=true", "vm-image-macos-14=" + img14},
			[]string{"vm-image-bun-build-macos-13-1.2.16-bootstrap-3.7=true"}},
		{"only the staged image", func() events.HostHealth {
			h := health(rel("14", false, events.ReasonBootstrapMismatch))
			h.Staged = []events.ReleaseStatus{staged("14", true, events.ReasonReady)}
			return h
		}(), []string{"vm-image-" + img14next + "=true", "vm-ready-macos-14=false", "vm-ready=false"}, []string{"vm-image-" + img14 + "=true"}},
		{"forced not ready: no image tag", func() events.HostHealth {
			h := health(rel("14", false, events.ReasonForcedNotReady))
			h.Forced = &events.Forced{State: events.ForcedNotReady}
			h.Staged = []events.ReleaseStatus{staged("14", true, events.ReasonReady)}
			return h
		}(), []string{"vm-ready-macos-14=false"}, []string{"vm-image-" + img14 + "=true", "vm-image-" + img14next + "=true"}},
		{"forced ready says nothing of the image", health(rel("14", true, events.ReasonForcedReady)),
			[]string{"vm-ready-macos-14=true"}, []string{"vm-image-" + img14 + "=true"}},
		{"tart error: no image tag", func() events.HostHealth {
			h := health(rel("14", true, events.ReasonTartError))
			h.Staged = []events.ReleaseStatus{staged("14", false, events.ReasonTartError)}
			return h
		}(), nil, []string{"vm-image-" + img14 + "=true", "vm-image-" + img14next + "=true"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Tags(tc.h, TagOptions{})
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Errorf("Got(Tags) = %v, want %s", got, w)
				}
			}
			for _, n := range tc.not {
				if slices.Contains(got, n) {
					t.Errorf("Got(Tags) = %v, want no %s", got, n)
				}
			}
		})
	}
}
