package bkagent

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/vmfleet/vmfleet/events"
)

// Tag keys (events.TagKey*; per release with the suffix "-macos-<release>",
// see ReleaseKey).
const (
	// KeyHost pins a job to one host (the VM build step); its value is the
	// host token (events.HostToken of the hostname), stable across checks.
	KeyHost      = events.TagKeyHost
	KeyQueue     = events.TagKeyQueue
	KeyReady     = events.TagKeyReady
	KeyImage     = events.TagKeyImage
	KeyBootstrap = events.TagKeyBootstrap
	KeyBun       = events.TagKeyBun
)

// ReleaseKey is base's per-release key: ReleaseKey(KeyReady, "14") is
// "vm-ready-macos-14".
func ReleaseKey(base, release string) string { return events.ReleaseTagKey(base, release) }

// QueueWhen says when a host counts as ready for queue routing.
type QueueWhen string

// Queue routing modes.
const (
	// QueueWhenAll (the default): the ready queue only when every release the
	// host checks is ready, so a job on that queue may ask for any of them.
	QueueWhenAll QueueWhen = "all"
	// QueueWhenAny: the ready queue when at least one release is ready.
	QueueWhenAny QueueWhen = "any"
)

// TagOptions says how Tags merges the computed tags with the operator's.
type TagOptions struct {
	// Operator is the operator's own tags ("queue=darwin", "arch=arm64"). On a
	// key Tags also computes, the operator's value wins: an operator who
	// declares vmfleet-host=mini-7 or vm-ready=true gets exactly that. The one
	// exception is queue with queue routing on, which Validate rejects.
	Operator []string
	// ReadyQueue and NotReadyQueue, both set or both empty, turn queue routing
	// on: tag queue=ReadyQueue when the host is ready (see QueueWhen), else
	// queue=NotReadyQueue (e.g. darwin-ready / darwin-prep).
	ReadyQueue    string
	NotReadyQueue string
	// QueueWhen is QueueWhenAll when empty.
	QueueWhen QueueWhen
}

// Validate checks the operator's tags and the queue routing settings.
func (o TagOptions) Validate() error {
	seen := map[string]bool{}
	for _, t := range o.Operator {
		k, _, err := splitTag(t)
		if err != nil {
			return fmt.Errorf("%w: buildkite.tags: %w", ErrInvalidOption, err)
		}
		if seen[k] {
			return fmt.Errorf("%w: buildkite.tags: key %q given twice", ErrInvalidOption, k)
		}
		seen[k] = true
	}
	if (o.ReadyQueue == "") != (o.NotReadyQueue == "") {
		return fmt.Errorf("%w: buildkite.ready_queue and buildkite.not_ready_queue: set both or neither (a host without a queue tag serves queue \"default\")", ErrInvalidOption)
	}
	if o.ReadyQueue != "" {
		for _, q := range []string{o.ReadyQueue, o.NotReadyQueue} {
			if !validValue(q) {
				return fmt.Errorf("%w: queue %q: no commas, spaces or control characters", ErrInvalidOption, q)
			}
		}
		if seen[KeyQueue] {
			return fmt.Errorf("%w: buildkite.tags sets queue while queue routing (buildkite.ready_queue) is on: remove one", ErrInvalidOption)
		}
	}
	switch o.QueueWhen {
	case "", QueueWhenAll, QueueWhenAny:
	default:
		return fmt.Errorf("%w: buildkite.queue_when %q: want %q or %q", ErrInvalidOption, o.QueueWhen, QueueWhenAll, QueueWhenAny)
	}
	return nil
}

// ReleaseReady reports whether jobs may run a release's image. A release
// whose reason is an error (events.ReasonInfo: tart_error) is never ready,
// whatever Ready says: the image cannot be confirmed. (The agent already
// reports tart_error as not ready; a forced_ready override has its own
// reason and stays ready.)
func ReleaseReady(st events.ReleaseStatus) bool {
	return st.Ready && !st.Reason.Info().Error
}

// Tags computes the Buildkite agent tags for a check's result, sorted by key:
//   - per release r: vm-ready-macos-<r>=true|false, vm-image-macos-<r>=<expected
//     image>, vm-bootstrap-version-macos-<r>=<v>, vm-bun-version-macos-<r>=<v>;
//   - when the host checks exactly one release, also vm-ready, vm-image,
//     vm-bootstrap-version and vm-bun-version, so seed pipelines asking for
//     "vm-ready": "true" keep working;
//   - vm-image-<image name>=true for every image of an active spec (current
//     or staged) the host holds ready (see HeldImages);
//   - vmfleet-host=<host token>;
//   - queue routing, when configured;
//   - the operator's tags, which win on keys they declare.
//
// Only values that change with readiness or the spec are tags; the reason,
// its detail and the check time never are, so a check that finds the same
// state yields the same tags. Commas, spaces and control characters in
// computed values become '_'; empty values are left out. Operator tags that
// do not parse are skipped (call TagOptions.Validate first).
func Tags(h events.HostHealth, opts TagOptions) []string {
	m := map[string]string{}
	set := func(k, v string) {
		if v = cleanValue(v); v != "" {
			m[k] = v
		}
	}
	set(KeyHost, h.Host)
	for _, st := range h.Releases {
		set(ReleaseKey(KeyReady, st.Release), strconv.FormatBool(ReleaseReady(st)))
		set(ReleaseKey(KeyImage, st.Release), st.ExpectedImage)
		set(ReleaseKey(KeyBootstrap, st.Release), st.Bootstrap)
		set(ReleaseKey(KeyBun, st.Release), st.Bun)
	}
	if len(h.Releases) == 1 {
		st := h.Releases[0]
		set(KeyReady, strconv.FormatBool(ReleaseReady(st)))
		set(KeyImage, st.ExpectedImage)
		set(KeyBootstrap, st.Bootstrap)
		set(KeyBun, st.Bun)
	}
	for _, name := range HeldImages(h) {
		// The image is part of the key: cleaned like a value, and '='
		// (which would end the key) too. It never replaces another key.
		if k := strings.ReplaceAll(cleanValue(events.ImageTagKey(name)), "=", "_"); m[k] == "" {
			m[k] = "true"
		}
	}
	if opts.ReadyQueue != "" && opts.NotReadyQueue != "" {
		q := opts.NotReadyQueue
		if hostReady(h.Releases, opts.QueueWhen) {
			q = opts.ReadyQueue
		}
		set(KeyQueue, q)
	}
	for _, t := range opts.Operator {
		if k, v, err := splitTag(t); err == nil {
			m[k] = v
		}
	}
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	slices.SortFunc(out, compareTags)
	return out
}

// HeldImages lists, in order and once each, the images of the active specs
// (h.Releases, then h.Staged) a job may run on this host: those whose check
// found them (reason ready), unless an operator forced the host not ready.
// A forced_ready release is not among them: the tag says which image the
// host holds, which the override does not. Like every tag it follows the
// statuses alone, never the rest of the inventory.
func HeldImages(h events.HostHealth) []string {
	if h.Forced != nil && h.Forced.State == events.ForcedNotReady {
		return nil
	}
	var out []string
	for _, sts := range [][]events.ReleaseStatus{h.Releases, h.Staged} {
		for _, st := range sts {
			if st.Ready && st.Reason == events.ReasonReady && st.ExpectedImage != "" && !slices.Contains(out, st.ExpectedImage) {
				out = append(out, st.ExpectedImage)
			}
		}
	}
	return out
}

// hostReady says whether the host counts as ready for queue routing.
func hostReady(rs []events.ReleaseStatus, when QueueWhen) bool {
	n := 0
	for _, r := range rs {
		if ReleaseReady(r) {
			n++
		}
	}
	if when == QueueWhenAny {
		return n > 0
	}
	return n > 0 && n == len(rs)
}

// compareTags orders tags by key, then value.
func compareTags(a, b string) int {
	ak, av, _ := strings.Cut(a, "=")
	bk, bv, _ := strings.Cut(b, "=")
	return cmp.Or(strings.Compare(ak, bk), strings.Compare(av, bv))
}

// Equal reports whether a and b hold the same tags, in any order.
func Equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = slices.Clone(a), slices.Clone(b)
	slices.SortFunc(a, compareTags)
	slices.SortFunc(b, compareTags)
	return slices.Equal(a, b)
}

// Format joins tags as BUILDKITE_AGENT_TAGS and --tags expect them: "k=v,k=v".
func Format(tags []string) string { return strings.Join(tags, ",") }

// Parse splits a BUILDKITE_AGENT_TAGS value into tags, checking each;
// surrounding spaces are trimmed and empty entries skipped.
func Parse(s string) ([]string, error) {
	var out []string
	for t := range strings.SplitSeq(s, ",") {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if _, _, err := splitTag(t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// splitTag splits "key=value", checking both parts.
func splitTag(t string) (string, string, error) {
	k, v, ok := strings.Cut(t, "=")
	switch {
	case !ok:
		return "", "", fmt.Errorf("%w: %q: want key=value", ErrInvalidTag, t)
	case !validValue(k):
		return "", "", fmt.Errorf("%w: %q: the key must be non-empty, without commas, spaces or control characters", ErrInvalidTag, t)
	case !validValue(v):
		return "", "", fmt.Errorf("%w: %q: the value must be non-empty, without commas, spaces or control characters", ErrInvalidTag, t)
	}
	return k, v, nil
}

// validValue reports whether v is non-empty and free of commas, spaces and
// control characters ('=' is allowed: Buildkite splits at the first one).
func validValue(v string) bool {
	return v != "" && cleanValue(v) == v
}

// cleanValue replaces what cannot stand in a comma-separated tag list.
func cleanValue(v string) string {
	return strings.Map(func(r rune) rune {
		if r == ',' || unicode.IsSpace(r) || unicode.IsControl(r) {
			return '_'
		}
		return r
	}, v)
}
