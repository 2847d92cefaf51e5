package rollout

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmfleet/vmfleet/events"
)

// histOf builds a history: each entry is a key and, for a put, a spec.
type histEntry struct {
	key  string
	spec *events.Spec
}

func histOf(entries ...histEntry) []events.SpecRevision {
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	out := make([]events.SpecRevision, len(entries))
	for i, e := range entries {
		r := events.SpecRevision{Revision: uint64(i + 1), Key: e.key, At: at.Add(time.Duration(i) * time.Minute)}
		if e.spec == nil {
			r.Deleted = true
		} else {
			r.Spec = *e.spec
		}
		out[i] = r
	}
	return out
}

func specWith(by, reason string, edit func(*events.ImageSpec)) *events.Spec {
	s := events.Spec{Images: testImages(), UpdatedBy: by, Reason: reason}
	s.Images.Releases = []string{"13", "14"}
	edit(&s.Images)
	return &s
}

func put(key string, s *events.Spec) histEntry { return histEntry{key: key, spec: s} }
func del(key string) histEntry                 { return histEntry{key: key} }

func TestHistoryEntries(t *testing.T) {
	base := specWith("config", "", func(*events.ImageSpec) {})
	typo := specWith("bob", "drop 13", func(im *events.ImageSpec) { im.Releases = []string{"99"} })
	fixed := specWith("alice", "rollback to revision 1: typo", func(*events.ImageSpec) {})
	staged := specWith("carol", "bootstrap bump", func(im *events.ImageSpec) { im.BootstrapVersion = "3.7" })
	auto := *staged
	auto.AutoPromote = 0.9
	promoted := *staged
	promoted.UpdatedBy = "auto-promote"
	hist := histOf(
		put(events.SpecKey, base),       // 1
		put(events.SpecKey, typo),       // 2
		put(events.SpecKey, fixed),      // 3
		put(events.NextSpecKey, staged), // 4
		put(events.NextSpecKey, &auto),  // 5
		put(events.SpecKey, &promoted),  // 6
		del(events.NextSpecKey),         // 7
		put(events.NextSpecKey, typo),   // 8
		del(events.NextSpecKey),         // 9
	)
	got := HistoryEntries(hist)
	type row struct {
		Rev, Prev       uint64
		Key, By, Reason string
		Deleted         bool
		Changed         string
	}
	var rows []row
	for _, c := range got {
		rows = append(rows, row{c.Revision, c.Previous, c.Key, c.By, c.Reason, c.Deleted, c.Changed})
	}
	want := []row{
		{9, 8, "next", "", "", true, "staged spec removed"},
		{8, 7, "next", "bob", "drop 13", false, "staged: releases 13,14 → 99; bootstrap 3.7 → 3.6"},
		{7, 5, "next", "", "", true, "staged spec promoted"},
		{6, 3, "current", "auto-promote", "bootstrap bump", false, "bootstrap 3.6 → 3.7"},
		{5, 4, "next", "carol", "bootstrap bump", false, "auto-promote by hand → 90%"},
		{4, 0, "next", "carol", "bootstrap bump", false, "staged: bootstrap 3.6 → 3.7"},
		{3, 2, "current", "alice", "rollback to revision 1: typo", false, "releases 99 → 13,14"},
		{2, 1, "current", "bob", "drop 13", false, "releases 13,14 → 99"},
		{1, 0, "current", "config", "", false, "first in history: releases 13,14, bun 1.2.16, bootstrap 3.6, registry (none: built on each host)"},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("Got(HistoryEntries) diff (-want +got):\n%s", diff)
	}
	if got[6].PreviousImages == nil || !cmp.Equal(*got[6].PreviousImages, typo.Images) || got[8].PreviousImages != nil {
		t.Errorf("Got(previous images of 3, 1) = %v, %v, want the typo's, none", got[6].PreviousImages, got[8].PreviousImages)
	}
	if got[0].Images.Releases != nil || got[1].Images.Releases[0] != "99" {
		t.Errorf("Got(images of 9, 8) = %+v, %+v, want none, the staged typo's", got[0].Images, got[1].Images)
	}
	if want := []events.SpecFieldChange{{Field: "releases", From: "13,14", To: "99"}}; !cmp.Equal(got[7].Changes, want) {
		t.Errorf("Got(changes of 2) = %+v, want %+v", got[7].Changes, want)
	}
	if want := []events.SpecFieldChange{{Field: "bootstrap", From: "3.6", To: "3.7"}}; !cmp.Equal(got[5].Changes, want) || got[0].Changes != nil {
		t.Errorf("Got(changes of 4, 9) = %+v, %+v, want %+v against the spec in force, none", got[5].Changes, got[0].Changes, want)
	}
	cleanupOnly := *base
	cleanupOnly.Cleanup.KeepBunVersions = 3
	if got := HistoryEntries(histOf(put(events.SpecKey, base), put(events.SpecKey, &cleanupOnly), put(events.SpecKey, &cleanupOnly))); got[0].Changed != "no change" || got[1].Changed != "cleanup policy" {
		t.Errorf("Got(cleanup-only changes) = %q, %q, want no change, cleanup policy", got[0].Changed, got[1].Changed)
	}
}

func TestRollbackTarget(t *testing.T) {
	a := specWith("config", "", func(*events.ImageSpec) {})
	b := specWith("bob", "", func(im *events.ImageSpec) { im.BunVersion = "1.2.17" })
	bAgain := specWith("bob", "cleanup only", func(im *events.ImageSpec) { im.BunVersion = "1.2.17" })
	typo := specWith("bob", "", func(im *events.ImageSpec) { im.Releases = []string{"99"} })
	hist := histOf(
		put(events.SpecKey, a),        // 1
		put(events.SpecKey, b),        // 2
		put(events.NextSpecKey, typo), // 3
		del(events.NextSpecKey),       // 4
		put(events.SpecKey, bAgain),   // 5: same images as 2
		put(events.SpecKey, typo),     // 6: in force
	)
	tests := []struct {
		name string
		rev  uint64
		want uint64 // 0: an error
		err  error
		msg  []string
	}{
		{name: "default: the latest with other images", rev: 0, want: 5},
		{name: "an earlier revision", rev: 1, want: 1},
		{name: "the one in force", rev: 6, err: ErrNotRestorable, msg: []string{"revision 6 is the spec in force", "5, 2, 1"}},
		{name: "a staged spec", rev: 3, err: ErrNotRestorable, msg: []string{"revision 3 is a staged spec (key next)", "restored: 5, 2, 1"}},
		{name: "a delete of key next", rev: 4, err: ErrNotRestorable, msg: []string{"revision 4 is a staged spec"}},
		{name: "unknown", rev: 42, err: ErrUnknownRevision, msg: []string{"revision 42 is not in the spec's history", "5, 2, 1 (vmfleet spec history)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := rollbackTarget(hist, tt.rev)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("Got(rollbackTarget(%d)) = %v, want %v", tt.rev, err, tt.err)
				}
				for _, m := range tt.msg {
					if !strings.Contains(err.Error(), m) {
						t.Errorf("Got(error) = %q, want it to contain %q", err, m)
					}
				}
				return
			}
			if err != nil || got.Revision != tt.want {
				t.Errorf("Got(rollbackTarget(%d)) = %d, %v, want %d", tt.rev, got.Revision, err, tt.want)
			}
		})
	}
	only := histOf(put(events.SpecKey, a), put(events.SpecKey, a))
	if _, err := rollbackTarget(only, 0); !errors.Is(err, ErrNotRestorable) || !strings.Contains(err.Error(), "no earlier revision has other images") {
		t.Errorf("Got(default rollback with nothing different) = %v, want ErrNotRestorable", err)
	}
	if _, err := rollbackTarget(nil, 0); !errors.Is(err, ErrNotRestorable) {
		t.Errorf("Got(rollback of an empty history) = %v, want ErrNotRestorable", err)
	}
	deleted := histOf(put(events.SpecKey, a), del(events.SpecKey), put(events.SpecKey, b))
	if _, err := rollbackTarget(deleted, 2); !errors.Is(err, ErrNotRestorable) || !strings.Contains(err.Error(), "revision 2 deleted the spec") {
		t.Errorf("Got(rollback to a delete of key current) = %v, want ErrNotRestorable", err)
	}
}

func TestChangeLogAnnouncesOnlyNews(t *testing.T) {
	a := specWith("config", "", func(*events.ImageSpec) {})
	b := specWith("bob", "bump", func(im *events.ImageSpec) { im.BunVersion = "1.2.17" })
	var l ChangeLog
	var got []uint64
	announce := func(c events.SpecHistoryEntry) { got = append(got, c.Revision) }
	if l.Entries() != nil {
		t.Errorf("Got(Changes before a read) = %v, want nil", l.Entries())
	}
	l.Note(histOf(put(events.SpecKey, a), put(events.SpecKey, b)), announce)
	if len(got) != 0 || len(l.Entries()) != 2 {
		t.Errorf("Got(first read) announced %v, kept %d, want none announced, 2 kept", got, len(l.Entries()))
	}
	l.Note(histOf(put(events.SpecKey, a), put(events.SpecKey, b), put(events.NextSpecKey, a), del(events.NextSpecKey)), announce)
	if !cmp.Equal(got, []uint64{3, 4}) || l.Entries()[0].Revision != 4 {
		t.Errorf("Got(announced) = %v, newest kept %d, want [3 4] oldest first, 4", got, l.Entries()[0].Revision)
	}
}
