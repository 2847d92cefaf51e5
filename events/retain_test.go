package events

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRetained(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	at := func(h float64) time.Time { return t0.Add(time.Duration(h * float64(time.Hour))) }
	spec := func(rels string, bun, bs string, grace time.Duration) Spec {
		return Spec{Images: ImageSpec{NameTemplate: DefaultNameTemplate, Releases: strings.Split(rels, ","), BunVersion: bun, BootstrapVersion: bs}, Cleanup: CleanupPolicy{RemovedGrace: Duration(grace)}}
	}
	imgs := func(rels string, bun, bs string) ImageSpec {
		return ImageSpec{NameTemplate: DefaultNameTemplate, Releases: strings.Split(rels, ","), BunVersion: bun, BootstrapVersion: bs}
	}
	put := func(rev uint64, key string, h float64, s Spec) SpecRevision {
		return SpecRevision{Spec: s, Revision: rev, Key: key, At: at(h)}
	}
	del := func(rev uint64, key string, h float64) SpecRevision {
		return SpecRevision{Revision: rev, Key: key, At: at(h), Deleted: true}
	}
	a := spec("13,14", "1.2.16", "3.6", 0) // default grace, 24h
	b := spec("14", "1.2.16", "3.6", 0)    // 13 removed
	c := spec("13,14", "1.2.16", "3.7", 0) // bootstrap bump
	short := spec("14", "1.2.16", "3.6", time.Hour)
	long := spec("13,14", "1.2.16", "3.6", 48*time.Hour)
	typo := spec("99,abc", "1.2.16", "3.6", 0)

	tests := []struct {
		name string
		hist []SpecRevision
		now  float64
		want []RetainedImages
	}{
		{"empty history", nil, 0, nil},
		{"one spec: everything active", []SpecRevision{put(1, SpecKey, 0, a)}, 1, nil},
		{"release removed: kept 24h from the change", []SpecRevision{put(1, SpecKey, 0, a), put(2, SpecKey, 2, b)}, 3,
			[]RetainedImages{{Images: imgs("13", "1.2.16", "3.6"), Until: at(26)}}},
		{"release removed: not after the grace", []SpecRevision{put(1, SpecKey, 0, a), put(2, SpecKey, 2, b)}, 26, nil},
		{"typo removes both releases", []SpecRevision{put(1, SpecKey, 0, a), put(2, SpecKey, 5, typo)}, 6,
			[]RetainedImages{{Images: imgs("13,14", "1.2.16", "3.6"), Until: at(29)}}},
		{"rollback: the images are active again", []SpecRevision{put(1, SpecKey, 0, a), put(2, SpecKey, 5, typo), put(3, SpecKey, 6, a)}, 7,
			[]RetainedImages{{Images: imgs("99,abc", "1.2.16", "3.6"), Until: at(30)}}},
		{"order is by revision, not slice order", []SpecRevision{put(2, SpecKey, 2, b), put(1, SpecKey, 0, a)}, 3,
			[]RetainedImages{{Images: imgs("13", "1.2.16", "3.6"), Until: at(26)}}},
		{"staged images are active", []SpecRevision{put(1, SpecKey, 0, a), put(2, NextSpecKey, 1, c)}, 2, nil},
		{"promote: next written current, next deleted", []SpecRevision{put(1, SpecKey, 0, a), put(2, NextSpecKey, 1, c), put(3, SpecKey, 4, c), del(4, NextSpecKey, 4)}, 5,
			[]RetainedImages{{Images: imgs("13,14", "1.2.16", "3.6"), Until: at(28)}}},
		{"unstage: next's images retained", []SpecRevision{put(1, SpecKey, 0, a), put(2, NextSpecKey, 1, c), del(3, NextSpecKey, 3)}, 4,
			[]RetainedImages{{Images: imgs("13,14", "1.2.16", "3.7"), Until: at(27)}}},
		{"current deleted", []SpecRevision{put(1, SpecKey, 0, a), del(2, SpecKey, 1)}, 2,
			[]RetainedImages{{Images: imgs("13,14", "1.2.16", "3.6"), Until: at(25)}}},
		{"a change cannot shorten its own grace", []SpecRevision{put(1, SpecKey, 0, a), put(2, SpecKey, 1, short)}, 20,
			[]RetainedImages{{Images: imgs("13", "1.2.16", "3.6"), Until: at(25)}}},
		{"a short grace in force applies to later changes", []SpecRevision{put(1, SpecKey, 0, short), put(2, SpecKey, 1, spec("15", "1.2.16", "3.6", time.Hour))}, 1.5,
			[]RetainedImages{{Images: imgs("14", "1.2.16", "3.6"), Until: at(2)}}},
		{"a longer grace set by the change applies", []SpecRevision{put(1, SpecKey, 0, long), put(2, SpecKey, 1, b)}, 30,
			[]RetainedImages{{Images: imgs("13", "1.2.16", "3.6"), Until: at(49)}}},
		{"each removal has its own clock", []SpecRevision{put(1, SpecKey, 0, a), put(2, SpecKey, 2, b), put(3, SpecKey, 10, spec("14", "1.2.17", "3.6", 0))}, 11,
			[]RetainedImages{{Images: imgs("13", "1.2.16", "3.6"), Until: at(26)}, {Images: imgs("14", "1.2.16", "3.6"), Until: at(34)}}},
		{"other keys are ignored", []SpecRevision{put(1, SpecKey, 0, a), put(2, "other", 1, b)}, 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Retained(tt.hist, at(tt.now))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Got(Retained) differs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRetainedNames(t *testing.T) {
	t.Parallel()
	r := RetainedImages{Images: ImageSpec{Releases: []string{"13", "14"}, BunVersion: "1.2.16", BootstrapVersion: "3.6"}}
	want := []string{"bun-build-macos-13-1.2.16-bootstrap-3.6", "bun-build-macos-14-1.2.16-bootstrap-3.6"}
	if diff := cmp.Diff(want, r.Names()); diff != "" {
		t.Errorf("Got(Names) differs (-want +got):\n%s", diff)
	}
}

func TestCleanupPolicyValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pol  CleanupPolicy
		want string // "" when valid
	}{
		{CleanupPolicy{}, ""},
		{CleanupPolicy{RemovedGrace: Duration(time.Hour), MaxPruneHostsFraction: 1}, ""},
		{CleanupPolicy{RemovedGrace: Duration(-time.Second)}, "cleanup.removed_grace"},
		{CleanupPolicy{MaxPruneHostsFraction: -0.1}, "cleanup.max_prune_hosts_fraction"},
		{CleanupPolicy{MaxPruneHostsFraction: 1.5}, "cleanup.max_prune_hosts_fraction"},
	}
	for _, tt := range tests {
		err := Spec{Images: DefaultImageSpec(), Cleanup: tt.pol}.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("Got(Validate(%+v)) = %v, want nil", tt.pol, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("Got(Validate(%+v)) = %v, want an error naming %s", tt.pol, err, tt.want)
		}
	}
	var zero CleanupPolicy
	if zero.Grace() != 24*time.Hour || zero.PruneHostsFraction() != 0.25 {
		t.Errorf("Got(defaults) = %v, %v, want 24h, 0.25", zero.Grace(), zero.PruneHostsFraction())
	}
}

func TestLatest(t *testing.T) {
	t.Parallel()
	a, b := Spec{Reason: "a"}, Spec{Reason: "b"}
	hist := []SpecRevision{{Spec: b, Revision: 3, Key: NextSpecKey}, {Spec: a, Revision: 1, Key: SpecKey}, {Spec: a, Revision: 2, Key: NextSpecKey}}
	if got := Latest(hist, SpecKey); got == nil || got.Reason != "a" {
		t.Errorf("Got(Latest(current)) = %+v, want a", got)
	}
	if got := Latest(hist, NextSpecKey); got == nil || got.Reason != "b" {
		t.Errorf("Got(Latest(next)) = %+v, want b (the highest revision)", got)
	}
	hist = append(hist, SpecRevision{Revision: 4, Key: NextSpecKey, Deleted: true})
	if got := Latest(hist, NextSpecKey); got != nil {
		t.Errorf("Got(Latest(next) after a delete) = %+v, want nil", got)
	}
	if got := Latest(nil, SpecKey); got != nil {
		t.Errorf("Got(Latest(empty)) = %+v, want nil", got)
	}
}
