package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func init() { register(newCompletionCmd) }

// newCompletionCmd replaces cobra's default completion command with one whose
// subcommands carry install examples (every command has an Example).
func newCompletionCmd(*globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "completion",
		Short: "Print a shell completion script (bash, zsh, fish, powershell)",
		Long: `Prints a completion script for your shell: commands, subcommands and flags
complete with Tab. Load it once per session, or install it as shown in each
shell's --help.`,
		Example: `  source <(vmfleet completion bash)
  vmfleet completion zsh > "${fpath[1]}/_vmfleet"
  vmfleet completion fish > ~/.config/fish/completions/vmfleet.fish`,
		Args: cobra.NoArgs,
	}
	shells := []struct {
		name, example string
		gen           func(root *cobra.Command, cmd *cobra.Command) error
	}{
		{"bash", `  source <(vmfleet completion bash)                                  # this shell
  vmfleet completion bash > /etc/bash_completion.d/vmfleet           # Linux, every shell
  vmfleet completion bash > $(brew --prefix)/etc/bash_completion.d/vmfleet  # macOS (needs bash-completion@2)`,
			func(root, cmd *cobra.Command) error { return root.GenBashCompletionV2(cmd.OutOrStdout(), true) }},
		{"zsh", `  autoload -U compinit; compinit                                     # once, in ~/.zshrc
  vmfleet completion zsh > "${fpath[1]}/_vmfleet"                    # then start a new shell`,
			func(root, cmd *cobra.Command) error { return root.GenZshCompletion(cmd.OutOrStdout()) }},
		{"fish", `  vmfleet completion fish | source                                   # this shell
  vmfleet completion fish > ~/.config/fish/completions/vmfleet.fish  # every shell`,
			func(root, cmd *cobra.Command) error { return root.GenFishCompletion(cmd.OutOrStdout(), true) }},
		{"powershell", `  vmfleet completion powershell | Out-String | Invoke-Expression`,
			func(root, cmd *cobra.Command) error { return root.GenPowerShellCompletionWithDesc(cmd.OutOrStdout()) }},
	}
	for _, sh := range shells {
		gen := sh.gen
		cmd.AddCommand(&cobra.Command{
			Use:                   sh.name,
			Short:                 fmt.Sprintf("Print the %s completion script", sh.name),
			Example:               sh.example,
			Args:                  cobra.NoArgs,
			DisableFlagsInUseLine: true,
			ValidArgsFunction:     cobra.NoFileCompletions,
			RunE:                  func(c *cobra.Command, _ []string) error { return gen(c.Root(), c) },
		})
	}
	return cmd
}
