package main

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
)

func init() { register(newContextCmd) }

func newContextCmd(*globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "context",
		Short: "Save and switch between orchestrators: server, token file, NATS URL and credentials",
		Long: `A context names where an orchestrator and its NATS are and with which
credentials: the server URL and API token file of status, spec, prune, host and
build, and the NATS URL and credentials of events. Contexts are kept in the
client config file, $XDG_CONFIG_HOME/vmfleet/config.yaml (default
~/.config/vmfleet/config.yaml; --client-config or VMFLEET_CLIENT_CONFIG to use
another), written 0600.

'vmfleet context use NAME' makes a context current: client commands then need
no flags. --context NAME (or VMFLEET_CONTEXT) uses another for one call. Each
setting's precedence: flag > environment > context > default, so a flag or
variable given still wins; 'vmfleet context show' says which applies.`,
		Example: `  vmfleet context set prod --server https://vmfleet.internal:8080 --token-file ~/.vmfleet/api-token \
      --nats-url tls://nats.internal:4222 --nats-nkey-seed ~/.vmfleet/ops.nk --nats-ca ~/.vmfleet/ca.pem
  vmfleet context use prod
  vmfleet status                          # no flags: the prod orchestrator
  vmfleet build list --context staging    # another context for one call`,
		Args: cobra.NoArgs,
	}
	contextFlags(cmd)
	cmd.AddCommand(newContextSetCmd(), newContextUseCmd(), newContextListCmd(), newContextShowCmd(), newContextDeleteCmd())
	return cmd
}

// validContextName: a name fit for a flag value and a YAML key.
func validContextName(name string) error {
	ok := name != "" && len(name) <= 64 && strings.IndexFunc(name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
	}) < 0
	if !ok {
		return exitCode(2, fmt.Errorf("%w: context name %q: use letters, digits, '-', '_' or '.'", cliconfig.ErrConfig, name))
	}
	return nil
}

// editClientConfig loads the file, lets edit change it, and saves it.
func editClientConfig(cmd *cobra.Command, edit func(path string, c *clientConfig) error) (string, error) {
	path, err := clientConfigPath(cmd)
	if err != nil {
		return "", err
	}
	c, err := loadClientConfig(path)
	if err != nil {
		return path, err
	}
	if err := edit(path, &c); err != nil {
		return path, err
	}
	return path, c.save(path)
}

func newContextSetCmd() *cobra.Command {
	vals := make([]string, len(contextSettings))
	cmd := &cobra.Command{
		Use:   "set NAME [--server URL] [--token-file FILE] [--nats-url URL] [--nats-creds FILE | --nats-nkey-seed FILE] [--nats-ca FILE]",
		Short: "Create a context or change its settings (only the flags given change)",
		Long: `Creates the context NAME, or changes the settings given of an existing one; a
setting given empty ("") is removed. File paths are saved absolute. The client
config file is written 0600. It does not make the context current: run
'vmfleet context use NAME'.`,
		Example: `  vmfleet context set prod --server https://vmfleet.internal:8080 --token-file ~/.vmfleet/api-token
  vmfleet context set prod --nats-url tls://nats.internal:4222 --nats-nkey-seed ~/.vmfleet/ops.nk
  vmfleet context set demo --server http://127.0.0.1:8080 --nats-url nats://127.0.0.1:4222
  vmfleet context set prod --token-file ""     # remove a setting`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := validContextName(name); err != nil {
				return err
			}
			created := false
			path, err := editClientConfig(cmd, func(_ string, c *clientConfig) error {
				ctx, ok := c.Contexts[name]
				created = !ok
				for i, s := range contextSettings {
					if !cmd.Flags().Changed(s.flag) {
						continue
					}
					v := strings.TrimSpace(vals[i])
					if s.file && v != "" {
						abs, err := filepath.Abs(expandHome(v))
						if err != nil {
							return err
						}
						v = abs
					}
					*s.field(&ctx) = v
				}
				if u, err := url.Parse(ctx.Server); ctx.Server != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
					return exitCode(2, fmt.Errorf("%w: context %s: --server %q: want the orchestrator's base URL, e.g. https://vmfleet.internal:8080", cliconfig.ErrConfig, name, ctx.Server))
				}
				if ctx.NATSCreds != "" && ctx.NATSNKeySeed != "" {
					return exitCode(2, fmt.Errorf("%w: context %s: give --nats-creds or --nats-nkey-seed, not both (remove one with --nats-creds \"\")", cliconfig.ErrConfig, name))
				}
				if c.Contexts == nil {
					c.Contexts = map[string]clientContext{}
				}
				c.Contexts[name] = ctx
				return nil
			})
			if err != nil {
				return err
			}
			verb := "updated"
			if created {
				verb = "created"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "context %s %s in %s\n", name, verb, path)
			return nil
		},
	}
	for i, s := range contextSettings {
		cmd.Flags().StringVar(&vals[i], s.flag, "", s.help+" (context key "+s.key+")")
	}
	cmd.MarkFlagsMutuallyExclusive("nats-creds", "nats-nkey-seed")
	return cmd
}

func newContextUseCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "use NAME",
		Short:   "Make a context current: client commands use it without flags",
		Example: "  vmfleet context use prod",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := editClientConfig(cmd, func(path string, c *clientConfig) error {
				if _, err := c.lookup(path, args[0]); err != nil {
					return err
				}
				c.CurrentContext = args[0]
				return nil
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "current context: %s (%s)\n", args[0], path)
			return nil
		},
	}
}

func newContextListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List the saved contexts; * marks the current one",
		Example: "  vmfleet context list",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := clientConfigPath(cmd)
			if err != nil {
				return err
			}
			c, err := loadClientConfig(path)
			if err != nil {
				return err
			}
			if len(c.Contexts) == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "no contexts in %s: create one with vmfleet context set NAME --server URL\n", path)
				return nil
			}
			using, _ := selectedContext(cmd, c)
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CURRENT\tNAME\tSERVER\tNATS URL")
			for _, n := range c.names() {
				mark := ""
				if n == using {
					mark = "*"
				}
				ctx := c.Contexts[n]
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", mark, n, dash(ctx.Server), dash(ctx.NATSURL))
			}
			return tw.Flush()
		},
	}
}

func newContextShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show [NAME]",
		Short: "Show a context (default: the one in use) and which of its settings apply",
		Long: `Prints a context's settings: by default the one this call would use (--context,
else VMFLEET_CONTEXT, else the current context). A setting that a variable of
the environment overrides says so.`,
		Example: `  vmfleet context show
  vmfleet context show staging`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := clientConfigPath(cmd)
			if err != nil {
				return err
			}
			c, err := loadClientConfig(path)
			if err != nil {
				return err
			}
			name, from := selectedContext(cmd, c)
			if len(args) == 1 {
				name, from = args[0], "named"
			}
			if name == "" {
				fmt.Fprintf(cmd.OutOrStdout(), "no context in use (file %s): commands use their flags, environment and defaults\n", path)
				return nil
			}
			ctx, err := c.lookup(path, name)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "context: %s (%s; file %s)\n", name, from, path)
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			for _, s := range contextSettings {
				v := *s.field(&ctx)
				note := ""
				if v != "" {
					// Flags of this command are not the client commands':
					// only the environment can override here.
					if by := s.overriddenBy(cmd.Flags()); by != "" && by[0] != '-' {
						note = "\t(overridden by " + by + ")"
					}
				}
				fmt.Fprintf(tw, "%s:\t%s%s\n", s.key, dash(v), note)
			}
			return tw.Flush()
		},
	}
}

func newContextDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "delete NAME",
		Short:   "Delete a context (the current one too: then none is current)",
		Example: "  vmfleet context delete staging",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			wasCurrent := false
			path, err := editClientConfig(cmd, func(path string, c *clientConfig) error {
				if _, err := c.lookup(path, args[0]); err != nil {
					return err
				}
				delete(c.Contexts, args[0])
				if c.CurrentContext == args[0] {
					c.CurrentContext, wasCurrent = "", true
				}
				return nil
			})
			if err != nil {
				return err
			}
			msg := fmt.Sprintf("context %s deleted from %s", args[0], path)
			if wasCurrent {
				msg += "; no context is current now (vmfleet context use NAME)"
			}
			fmt.Fprintln(cmd.OutOrStdout(), msg)
			return nil
		},
	}
}
