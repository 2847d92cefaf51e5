package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// exitError carries a process exit code through cobra (e.g. `agent check`
// exits 1 when a release is not ready, 2 on error).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// exitCode returns an error that makes vmfleet exit with code; err may be nil
// (nothing is printed then).
func exitCode(code int, err error) error { return &exitError{code: code, err: err} }

// execute runs the root command and returns the exit code.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "vmfleet:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "vmfleet:", err)
	return 2
}

// globalFlags are the flags every command has.
type globalFlags struct {
	logFormat string
	logLevel  string
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:   "vmfleet",
		Short: "Keep macOS CI hosts supplied with the right tart VM images",
		Long: `vmfleet keeps a fleet of macOS CI hosts supplied with the right tart VM images
and makes Buildkite send jobs only to hosts that have them.

Host agents publish health events to NATS; the orchestrator triggers
build-macos-vm builds for missing images and prunes outdated VMs inside
cleanup windows.`,
		Example: `  go run ./cmd/vmfleet demo             # the whole system on one machine
  vmfleet agent check                   # one health check, like the old script's "check"
  vmfleet orchestrator --config /etc/vmfleet/orchestrator.yaml`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", envOr("VMFLEET_LOG_FORMAT", "auto"), "log format: auto (human on a terminal, JSON otherwise), text or json [env VMFLEET_LOG_FORMAT]")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", envOr("VMFLEET_LOG_LEVEL", "info"), "log level: debug, info, warn or error [env VMFLEET_LOG_LEVEL]")
	for _, add := range subcommands {
		root.AddCommand(add(g))
	}
	wireClientContexts(root) // clientconfig.go
	wireCompletions(root)    // complete.go
	setRootVersion(root)     // version.go
	return root
}

// subcommands are registered by each command's file in init, so adding a
// command touches only its own file.
var subcommands []func(*globalFlags) *cobra.Command

func register(f func(*globalFlags) *cobra.Command) { subcommands = append(subcommands, f) }
