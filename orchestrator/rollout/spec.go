package rollout

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/cleanup"
	"github.com/vmfleet/vmfleet/events"
)

// SeedKey is the key of bucket vmfleet_spec holding the spec of the
// orchestrator's configuration as last published (see MergeConfigSpec).
// Agents read only events.SpecKey.
const SeedKey = "config"

// ValidateSpec checks a spec the orchestrator would publish:
// events.ValidateSpec, and on top that every cleanup window's schedule
// parses. Errors name the key at fault.
func ValidateSpec(s events.Spec) error {
	if err := events.ValidateSpec(s); err != nil {
		return err
	}
	if _, err := cleanup.ParseWindows(s.Cleanup.Windows); err != nil {
		return &events.FieldError{Field: "cleanup.windows", Reason: err.Error()}
	}
	return nil
}

// DecodeSpec reads a spec as stored in KV (events.DecodeSpec) and adds the
// orchestrator's checks (ValidateSpec).
func DecodeSpec(b []byte) (events.Spec, error) {
	s, err := events.DecodeSpec(b)
	if err != nil {
		return s, err
	}
	return s, ValidateSpec(s)
}

// SameSpec compares what a spec asks for (images and cleanup), not who wrote it when.
func SameSpec(a, b events.Spec) bool {
	norm := func(s events.Spec) []byte {
		if s.Images.NameTemplate == "" {
			s.Images.NameTemplate = events.DefaultNameTemplate
		}
		if len(s.Images.Releases) == 0 {
			s.Images.Releases = nil
		}
		if len(s.Cleanup.Windows) == 0 {
			s.Cleanup.Windows = nil
		}
		out, _ := json.Marshal(struct {
			I events.ImageSpec
			C events.CleanupPolicy
		}{s.Images, s.Cleanup})
		return out
	}
	return bytes.Equal(norm(a), norm(b))
}

// MergeConfigSpec decides the spec at start (docs/orchestrator.md: the orchestrator
// owns the spec, from its config file or `vmfleet spec set`). Per section
// (images, cleanup): the configuration's when it changed since it was last
// published (seed) or when nothing is known; otherwise the stored one, so
// an operator's `spec set` survives restarts until the config's own section
// changes.
func MergeConfigSpec(cfg events.Spec, stored, seed *events.Spec) events.Spec {
	if stored == nil || seed == nil {
		return cfg
	}
	out := cfg
	if SameSpec(events.Spec{Images: cfg.Images}, events.Spec{Images: seed.Images}) {
		out.Images = stored.Images
	}
	if SameSpec(events.Spec{Cleanup: cfg.Cleanup}, events.Spec{Cleanup: seed.Cleanup}) {
		out.Cleanup = stored.Cleanup
	}
	if SameSpec(out, *stored) {
		out.UpdatedAt, out.UpdatedBy = stored.UpdatedAt, stored.UpdatedBy
	}
	return out
}

// ReadSeed returns the config spec last published, or nil.
func ReadSeed(ctx context.Context, kv jetstream.KeyValue) *events.Spec {
	e, err := kv.Get(ctx, SeedKey)
	if err != nil {
		return nil
	}
	s, err := DecodeSpec(e.Value())
	if err != nil {
		return nil
	}
	return &s
}

// WriteSeed records the config's spec as published (leader only).
func WriteSeed(ctx context.Context, kv jetstream.KeyValue, source string, now time.Time, cfg events.Spec, seed *events.Spec) error {
	if seed != nil && SameSpec(*seed, cfg) {
		return nil
	}
	b, err := events.Encode(events.TypeSpec, source, SeedKey, "", now, cfg)
	if err != nil {
		return err
	}
	if _, err := kv.Put(ctx, SeedKey, b); err != nil {
		return fmt.Errorf("record the config's spec in KV %s: %w", events.BucketSpec, err)
	}
	return nil
}

// StagedReady reports whether h holds every image of the staged spec next
// ready, checked against that very revision.
func StagedReady(h *events.HostHealth, next *events.Spec) bool {
	if h.NextRevision != next.Revision || len(h.Staged) == 0 {
		return false
	}
	for _, r := range next.Images.Releases {
		st, ok := h.StagedStatus(r)
		if !ok || !st.Ready || st.ExpectedImage != next.Images.ImageName(r) {
			return false
		}
	}
	return true
}
