package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/vmfleet/vmfleet/agentd"
	"github.com/vmfleet/vmfleet/agentd/bkagent"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
)

// agentBuildkite configures how readiness reaches Buildkite's job routing
// (docs/routing.md): which lever drives the buildkite-agent's tags.
type agentBuildkite struct {
	Lever          string        `yaml:"lever" flag:"buildkite-agent" env:"VMFLEET_BUILDKITE_AGENT" help:"how tags reach buildkite-agent: none, supervise (run it as a child), command (tags file + restart command) or pause (orchestrator pauses agents)"`
	Tags           []string      `yaml:"tags" flag:"buildkite-tags" env:"VMFLEET_BUILDKITE_TAGS" help:"the operator's own agent tags (k=v, e.g. queue=darwin); they win over computed tags with the same key"`
	ReadyQueue     string        `yaml:"ready_queue" flag:"ready-queue" env:"VMFLEET_READY_QUEUE" help:"queue tag while the host is ready (e.g. darwin-ready); needs not_ready_queue"`
	NotReadyQueue  string        `yaml:"not_ready_queue" flag:"not-ready-queue" env:"VMFLEET_NOT_READY_QUEUE" help:"queue tag while the host is not ready (e.g. darwin-prep)"`
	QueueWhen      string        `yaml:"queue_when" flag:"queue-when" env:"VMFLEET_QUEUE_WHEN" help:"ready for queue routing when all (default) or any release is ready"`
	AgentCommand   []string      `yaml:"agent_command" flag:"buildkite-agent-command" env:"VMFLEET_BUILDKITE_AGENT_COMMAND" help:"buildkite-agent start argv for lever supervise (default: buildkite-agent start); must not set --tags"`
	Env            []string      `yaml:"env" flag:"buildkite-agent-env" env:"VMFLEET_BUILDKITE_AGENT_ENV" help:"extra KEY=VALUE environment for buildkite-agent or the restart command"`
	TagsFile       string        `yaml:"tags_file" flag:"tags-file" env:"VMFLEET_TAGS_FILE" help:"lever command: file the tags are written to"`
	TagsFileFormat string        `yaml:"tags_file_format" flag:"tags-file-format" env:"VMFLEET_TAGS_FILE_FORMAT" help:"lever command: tags (k=v,...) or env (BUILDKITE_AGENT_TAGS=...)"`
	RestartCommand []string      `yaml:"restart_command" flag:"restart-command" env:"VMFLEET_RESTART_COMMAND" help:"lever command: argv run after the tags changed (e.g. launchctl kickstart -k system/com.buildkite.buildkite-agent)"`
	RestartTimeout time.Duration `yaml:"restart_timeout" flag:"restart-timeout" env:"VMFLEET_RESTART_TIMEOUT" help:"lever command: deadline of the restart command"`
}

// lever builds the configured tag lever: the applier for the agent and, for
// lever supervise, the supervisor to run beside it.
func (c agentBuildkite) lever(log *slog.Logger, onStart func([]string)) (bkagent.Applier, *bkagent.Supervisor, error) {
	if err := checkAgentEnv(c.Env); err != nil {
		return nil, nil, err
	}
	lever, err := bkagent.ParseLever(c.Lever)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", cliconfig.ErrConfig, err)
	}
	cfg := bkagent.Config{
		Lever: lever,
		Tags: bkagent.TagOptions{Operator: c.Tags, ReadyQueue: c.ReadyQueue, NotReadyQueue: c.NotReadyQueue,
			QueueWhen: bkagent.QueueWhen(c.QueueWhen)},
		AgentCommand: c.AgentCommand, Env: c.Env, TagsFile: c.TagsFile,
		TagsFileFormat: bkagent.FileFormat(c.TagsFileFormat), RestartCommand: c.RestartCommand, RestartTimeout: c.RestartTimeout,
	}
	opts := []bkagent.Option{bkagent.WithLogger(log.With("component", "buildkite-agent"))}
	if onStart != nil {
		opts = append(opts, bkagent.WithOnStart(onStart))
	}
	a, sup, err := bkagent.FromConfig(cfg, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", cliconfig.ErrConfig, err)
	}
	return a, sup, nil
}

// runWithSupervisor runs the agent and, when sup is set, the buildkite-agent
// supervisor beside it. The first SIGINT/SIGTERM (ctx) stops both gracefully:
// buildkite-agent finishes its running job. A second one cancels the job.
func runWithSupervisor(ctx context.Context, agent *agentd.Agent, sup *bkagent.Supervisor, log *slog.Logger) error {
	if sup == nil {
		return agent.Run(ctx)
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	supDone := make(chan error, 1)
	go func() { supDone <- sup.Run(ctx) }()
	agentDone := make(chan error, 1)
	go func() { agentDone <- agent.Run(ctx) }()

	var agentErr, supErr error
	seen := 0
	for pending := 2; pending > 0; {
		select {
		case <-sigs:
			if seen++; seen >= 2 {
				log.Warn("second signal: cancelling buildkite-agent's running job")
				sup.Cancel()
			}
		case agentErr = <-agentDone:
			pending--
		case supErr = <-supDone:
			pending--
		}
	}
	if agentErr != nil {
		return agentErr
	}
	return supErr
}
