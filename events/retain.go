package events

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// SpecRevision is one entry of KV bucket vmfleet_spec's history: the spec
// written under Key (SpecKey or NextSpecKey) at Revision, or its deletion.
type SpecRevision struct {
	Spec Spec `json:"spec"`
	// Revision is the bucket's sequence number of the entry; it orders
	// entries of both keys.
	Revision uint64 `json:"revision"`
	// Key is SpecKey (current) or NextSpecKey (next).
	Key string `json:"key"`
	// At is when the entry was written (the server's time).
	At time.Time `json:"at"`
	// Deleted: the key was deleted or purged at this revision; Spec is zero.
	Deleted bool `json:"deleted,omitempty"`
}

// Latest returns the spec under key at the end of history (in Revision
// order), nil when the key was never written or its last entry is a delete.
func Latest(history []SpecRevision, key string) *Spec {
	var last *SpecRevision
	for i := range history {
		if h := &history[i]; h.Key == key && (last == nil || h.Revision > last.Revision) {
			last = h
		}
	}
	if last == nil || last.Deleted {
		return nil
	}
	s := last.Spec
	return &s
}

// RetainedImages are images that left every active spec less than the
// removal grace ago: the names Images.ImageName(r) for r in Images.Releases
// are kept while the clock is before Until.
type RetainedImages struct {
	Images ImageSpec `json:"images"`
	Until  time.Time `json:"until"`
}

// Names returns the retained image names, in Images.Releases order.
func (r RetainedImages) Names() []string {
	names := make([]string, len(r.Images.Releases))
	for i, rel := range r.Images.Releases {
		names[i] = r.Images.ImageName(rel)
	}
	return names
}

// Retained computes, from a history of the spec keys, the images still in
// their removal grace at now. It is pure: the agent and the orchestrator
// compute it from the same history and agree.
//
// It replays the history in Revision order (entries with another Key are
// ignored). The active images after each entry are those of the current and
// the next spec. An image that was active and is not after an entry stopped
// being active at that entry's At; it is retained until then plus the grace,
// the longer of the current spec's CleanupPolicy.Grace before and after the
// change (a change cannot shorten its own grace). An image active again
// later (a rollback) is no longer retained: it is expected. Only images not
// active at the end of the history, with Until after now, are returned,
// grouped by the spec they came from, in order of Until.
func Retained(history []SpecRevision, now time.Time) []RetainedImages {
	hist := slices.Clone(history)
	slices.SortStableFunc(hist, func(a, b SpecRevision) int { return cmp.Compare(a.Revision, b.Revision) })
	var cur, next *Spec
	removed := map[string]removal{}
	for i := range hist {
		h := &hist[i]
		var s *Spec
		if !h.Deleted {
			s = &h.Spec
		}
		before := activeImages(cur, next)
		grace := graceOf(cur)
		switch h.Key {
		case SpecKey:
			cur = s
		case NextSpecKey:
			next = s
		default:
			continue
		}
		if grace = max(grace, graceOf(cur)); grace == 0 {
			grace = DefaultRemovedGrace // no current spec on either side
		}
		after := activeImages(cur, next)
		for name, img := range before {
			if _, ok := after[name]; !ok {
				removed[name] = removal{img: img, until: h.At.Add(grace)}
			}
		}
		for name := range after {
			delete(removed, name)
		}
	}
	// Group by the spec an image came from (its values and template) and
	// by Until.
	type group struct {
		key   string
		until time.Time
	}
	groups := map[group]*RetainedImages{}
	var out []*RetainedImages
	for _, name := range sortedKeys(removed) {
		r := removed[name]
		if !r.until.After(now) {
			continue
		}
		g := group{key: strings.Join([]string{r.img.spec.NameTemplate, r.img.spec.BunVersion, r.img.spec.BootstrapVersion, r.img.spec.Registry}, "\x00"), until: r.until}
		ri := groups[g]
		if ri == nil {
			spec := r.img.spec
			spec.Releases = nil
			ri = &RetainedImages{Images: spec, Until: r.until}
			groups[g] = ri
			out = append(out, ri)
		}
		ri.Images.Releases = append(ri.Images.Releases, r.img.release)
	}
	if len(out) == 0 {
		return nil
	}
	res := make([]RetainedImages, len(out))
	for i, ri := range out {
		slices.SortFunc(ri.Images.Releases, CompareVersions)
		res[i] = *ri
	}
	slices.SortStableFunc(res, func(a, b RetainedImages) int { return a.Until.Compare(b.Until) })
	return res
}

// activeImage is one image of an active spec: the spec and the release.
type activeImage struct {
	spec    ImageSpec
	release string
}

type removal struct {
	img   activeImage
	until time.Time
}

// activeImages returns the images of the current and next specs by name.
func activeImages(specs ...*Spec) map[string]activeImage {
	m := map[string]activeImage{}
	for _, s := range specs {
		if s == nil {
			continue
		}
		for _, r := range s.Images.Releases {
			name := s.Images.ImageName(r)
			if _, ok := m[name]; !ok {
				m[name] = activeImage{spec: s.Images, release: r}
			}
		}
	}
	return m
}

func graceOf(s *Spec) time.Duration {
	if s == nil {
		return 0
	}
	return s.Cleanup.Grace()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
