package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
)

// statusReport is `agent status --json`.
type statusReport struct {
	Health events.HostHealth `json:"health"`
	// Previous is the check recorded before this one (by the daemon or any
	// agent command), when there was one.
	Previous *events.HostHealth `json:"previous,omitempty"`
}

func newAgentStatusCmd(g *globalFlags) *cobra.Command {
	cfg := defaultAgentConfig()
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the agent's state: forced state, last check, and a fresh check",
		Long: `Shows the host's forced state (if any), the previous check recorded in the
state directory, tart's version and the disk of TART_HOME, then checks again
and prints the table of releases. Exit status 0, or 2 on error.`,
		Example: "  vmfleet agent status",
		Args:    cobra.NoArgs,
	}
	b := cliconfig.Bind(cmd, &cfg, agentConfigEnv)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print {health, previous} as JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		env, err := openAgent(cmd, g, b, &cfg)
		if err != nil {
			return err
		}
		defer env.close()
		prev, err := env.agent.Previous()
		if err != nil {
			env.log.Warn("cannot read the previous check", "err", err)
		}
		h, err := env.agent.Check(cmd.Context())
		if err != nil {
			return err
		}
		if asJSON {
			return writeJSON(cmd.OutOrStdout(), statusReport{Health: h, Previous: prev})
		}
		printStatus(cmd.OutOrStdout(), h, prev, env.agent.Config().StateDir)
		return nil
	}
	return cmd
}

func printStatus(w io.Writer, h events.HostHealth, prev *events.HostHealth, stateDir string) {
	fmt.Fprintf(w, "host:        %s (%s)\n", h.Host, h.Hostname)
	fmt.Fprintf(w, "forced:      %s\n", describeForced(h.Forced))
	if prev != nil {
		fmt.Fprintf(w, "last check:  %s (%s ago, ready=%v)\n", prev.CheckedAt.Local().Format(time.RFC3339), time.Since(prev.CheckedAt).Round(time.Second), prev.Ready)
	} else {
		fmt.Fprintf(w, "last check:  none recorded in %s\n", stateDir)
	}
	tv := h.TartVersion
	if tv == "" {
		tv = "unknown"
	}
	fmt.Fprintf(w, "tart:        %s\n", tv)
	if d := h.Disk; d != nil {
		fmt.Fprintf(w, "disk:        %.1f GB free of %.1f GB (%s)\n", float64(d.FreeBytes)/1e9, float64(d.TotalBytes)/1e9, d.Path)
	}
	if h.SpecRevision != 0 {
		fmt.Fprintf(w, "spec:        from NATS KV, revision %d\n", h.SpecRevision)
	} else {
		fmt.Fprintf(w, "spec:        local configuration\n")
	}
	fmt.Fprintf(w, "vms:         %d\n\n", len(h.VMs))
	printReleases(w, h)
}

func describeForced(f *events.Forced) string {
	if f == nil {
		return "no"
	}
	s := string(f.State)
	if f.SetBy != "" {
		s += " by " + f.SetBy
	}
	s += " since " + f.SetAt.Local().Format(time.RFC3339)
	if f.Until.IsZero() {
		s += ", until cleared (vmfleet agent force-ready --clear)"
	} else {
		s += ", until " + f.Until.Local().Format(time.RFC3339)
	}
	if f.Reason != "" {
		s += ": " + f.Reason
	}
	return s
}
