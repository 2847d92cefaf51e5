package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/template"

	"github.com/spf13/cobra"
	"github.com/vmfleet/vmfleet/internal/buildinfo"
)

func init() { register(newVersionCmd) }

func newVersionCmd(*globalFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print vmfleet's version, commit, build date and dirty flag",
		Long: `Prints the build: the version (the release tag, git describe past a tag, or
the Go module version), the commit, the commit's date, whether the tree had
uncommitted changes, and the Go toolchain and platform. make build, make
release, go install and the container build all record them; vmfleet --version
prints the same. Both daemons export them as the vmfleet_build_info metric.`,
		Example: `  vmfleet version
  vmfleet version --json | jq -r .commit`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(buildinfo.Get())
			}
			printVersion(cmd.OutOrStdout(), buildinfo.Get())
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: version, commit, date, dirty, go_version, platform")
	return cmd
}

func printVersion(w io.Writer, i buildinfo.Info) {
	fmt.Fprintf(w, "vmfleet %s\n  commit:  %s\n  date:    %s\n  dirty:   %t\n  go:      %s %s\n",
		i.Version, i.Commit, i.Date, i.Dirty, i.GoVersion, i.Platform)
}

// setRootVersion gives the root command --version, printing what
// `vmfleet version` prints.
func setRootVersion(root *cobra.Command) {
	i := buildinfo.Get()
	root.Version = i.Version
	var b strings.Builder
	printVersion(&b, i)
	// The template is text/template: quote the text so no field is read as an action.
	root.SetVersionTemplate(`{{"` + template.JSEscapeString(b.String()) + `"}}`)
}
