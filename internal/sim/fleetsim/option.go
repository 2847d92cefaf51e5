package fleetsim

import (
	"fmt"
	"log/slog"
)

// Option configures a Sim.
type Option func(*options) error

type options struct {
	log      *slog.Logger // the simulation's own messages
	compLog  *slog.Logger // orchestrator, agents, fake Buildkite, nats-server
	observer func(Event)
}

func defaultOptions() options {
	discard := slog.New(slog.DiscardHandler)
	return options{log: discard, compLog: discard, observer: func(Event) {}}
}

// WithLogger sets the logger of the simulation's own messages (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidConfig)
		}
		o.log = l
		return nil
	}
}

// WithComponentLogger sets the logger handed to the orchestrator, the agents,
// the fake Buildkite and the nats-server, each with a "component" attribute
// (default: discard).
func WithComponentLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return fmt.Errorf("%w: nil component logger", ErrInvalidConfig)
		}
		o.compLog = l
		return nil
	}
}

// WithObserver calls fn with every story event, in order, from one
// goroutine; fn must return quickly (Narrator.Observe does).
func WithObserver(fn func(Event)) Option {
	return func(o *options) error {
		if fn == nil {
			return fmt.Errorf("%w: nil observer", ErrInvalidConfig)
		}
		o.observer = fn
		return nil
	}
}
