package bus

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"
)

// Follow hands each entry w delivers to apply, in order, until ctx ends or
// w's updates close, then stops w. The nil entry that marks the end of the
// initial values is not handed on.
func Follow(ctx context.Context, w jetstream.KeyWatcher, apply func(jetstream.KeyValueEntry)) {
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e != nil {
				apply(e)
			}
		}
	}
}
