package rollout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
)

// StoredImages reads the image sections of the specs stored under the keys
// current and next of bucket kv (the spec bucket), each read bounded by
// timeout; an absent key or a value that does not decode (DecodeSpec) has
// none.
func StoredImages(ctx context.Context, kv jetstream.KeyValue, timeout time.Duration) ([]*events.ImageSpec, error) {
	var specs []*events.ImageSpec
	for _, key := range []string{events.SpecKey, events.NextSpecKey} {
		rctx, cancel := context.WithTimeout(ctx, timeout)
		e, err := kv.Get(rctx, key)
		cancel()
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted):
			continue
		case err != nil:
			return nil, fmt.Errorf("read spec key %s: %w", key, err)
		}
		if s, err := DecodeSpec(e.Value()); err == nil {
			specs = append(specs, &s.Images)
		}
	}
	return specs, nil
}
