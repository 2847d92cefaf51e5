package bkagent

import (
	"context"
	"fmt"
	"time"

	"github.com/vmfleet/vmfleet/events"
)

// Lever is how a host's readiness reaches Buildkite's job routing (docs/routing.md).
type Lever string

// Levers.
const (
	// LeverNone: tags are not driven (the default).
	LeverNone Lever = "none"
	// LeverSupervise: agentd runs buildkite-agent as its child (Supervisor).
	LeverSupervise Lever = "supervise"
	// LeverCommand: agentd writes a tags file and runs a restart command (Commander).
	LeverCommand Lever = "command"
	// LeverPause: the orchestrator pauses agents of hosts ready for no
	// release; nothing to do on the host.
	LeverPause Lever = "pause"
)

// ParseLever parses a lever name; "" is LeverNone.
func ParseLever(s string) (Lever, error) {
	switch l := Lever(s); l {
	case "":
		return LeverNone, nil
	case LeverNone, LeverSupervise, LeverCommand, LeverPause:
		return l, nil
	}
	return "", fmt.Errorf("%w: buildkite.lever %q: want none, supervise, command or pause", ErrInvalidOption, s)
}

// Config is everything `vmfleet agent run` needs to drive the Buildkite
// agent's tags; the command maps its own config keys (buildkite.*) onto it.
type Config struct {
	Lever Lever
	// Tags are the operator's own tags, and the queue routing settings.
	Tags TagOptions
	// AgentCommand is the buildkite-agent start argv (lever supervise;
	// default ["buildkite-agent", "start"]); it must not set --tags.
	AgentCommand []string
	// Env is added to buildkite-agent's (or the restart command's) environment.
	Env []string
	// TagsFile, TagsFileFormat, RestartCommand and RestartTimeout are lever
	// command's (zero format: FormatTags; zero timeout: 30s).
	TagsFile       string
	TagsFileFormat FileFormat
	RestartCommand []string
	RestartTimeout time.Duration
}

// Applier is what agentd's TagApplier seam asks for.
type Applier interface {
	Apply(ctx context.Context, h events.HostHealth) ([]string, error)
}

// FromConfig builds the lever cfg names. For supervise it returns the
// Supervisor as the applier and as sup, which the caller runs alongside the
// agent (sup.Run) and cancels on a second interrupt (sup.Cancel). For
// command it returns a Commander and a nil sup. For none and pause it
// returns nil, nil, nil: the agent gets no tag applier.
func FromConfig(cfg Config, options ...Option) (a Applier, sup *Supervisor, err error) {
	if len(cfg.Env) > 0 {
		options = append([]Option{WithEnv(cfg.Env...)}, options...)
	}
	switch cfg.Lever {
	case "", LeverNone, LeverPause:
		return nil, nil, cfg.Tags.Validate()
	case LeverSupervise:
		argv := cfg.AgentCommand
		if len(argv) == 0 {
			argv = []string{"buildkite-agent", "start"}
		}
		s, err := NewSupervisor(argv, cfg.Tags, options...)
		if err != nil {
			return nil, nil, err
		}
		return s, s, nil
	case LeverCommand:
		if cfg.TagsFileFormat != "" {
			options = append(options, WithFileFormat(cfg.TagsFileFormat))
		}
		if cfg.RestartTimeout != 0 {
			options = append(options, WithRestartTimeout(cfg.RestartTimeout))
		}
		c, err := NewCommander(cfg.TagsFile, cfg.RestartCommand, cfg.Tags, options...)
		if err != nil {
			return nil, nil, err
		}
		return c, nil, nil
	}
	_, err = ParseLever(string(cfg.Lever))
	return nil, nil, err
}
