package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

func init() { register(newSpecCmd) }

func newSpecCmd(*globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "spec",
		Short: "Show or change the image spec the orchestrator publishes",
		Long: `The orchestrator owns the image spec (releases, bun and bootstrap versions,
registry, cleanup policy) and publishes it to KV vmfleet_spec; agents follow it.
vmfleet spec show prints the spec in force; vmfleet spec set changes it at once
(agents re-check, builds for the new images start, outdated images are pruned
in the next cleanup window once their replacement is ready).

A spec set by an operator stays in force across orchestrator restarts until the
corresponding section of the orchestrator's config file (images or cleanup)
changes: then the config's section wins.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newSpecShowCmd(), newSpecSetCmd(), newSpecStageCmd(), newSpecPromoteCmd(), newSpecUnstageCmd(),
		newSpecHistoryCmd(), newSpecRollbackCmd())
	return cmd
}

// opFlags are the flags of a command talking to the orchestrator's API.
type opFlags struct {
	server, tokenFile string
	asJSON            bool
}

func (f *opFlags) bind(cmd *cobra.Command) {
	serverFlag(cmd, &f.server)
	cmd.Flags().StringVar(&f.tokenFile, "token-file", envOr("VMFLEET_API_TOKEN_FILE", ""), "file holding the API bearer token [env VMFLEET_API_TOKEN_FILE, or the token in VMFLEET_API_TOKEN]")
	cmd.Flags().BoolVar(&f.asJSON, "json", false, "print the API's JSON")
}

// client reads the bearer token (the file, else VMFLEET_API_TOKEN).
func (f *opFlags) client() (*api.Client, error) {
	token := os.Getenv("VMFLEET_API_TOKEN")
	if f.tokenFile != "" {
		b, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("%w: --token-file: %v", cliconfig.ErrConfig, err)
		}
		token = strings.TrimSpace(string(b))
	}
	return newAPIClient(f.server, token), nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newSpecShowCmd() *cobra.Command {
	var f opFlags
	cmd := &cobra.Command{
		Use:     "show",
		Short:   "Print the spec in force (GET /api/v1/spec)",
		Example: "  vmfleet spec show --server http://orchestrator:8080",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			s, err := c.Spec(cmd.Context())
			if err != nil {
				return apiError(err)
			}
			if f.asJSON {
				return printJSON(cmd.OutOrStdout(), s)
			}
			if err := printSpec(cmd.OutOrStdout(), s); err != nil {
				return err
			}
			return printStaged(cmd, c)
		},
	}
	f.bind(cmd)
	return cmd
}

// printSpec writes the spec for a human: the images each host must have, the
// cleanup policy, and who set it when.
func printSpec(w io.Writer, s events.Spec) error {
	im, cl := s.Images, s.Cleanup
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	registry := im.Registry
	if registry == "" {
		registry = "- (each host builds its own)"
	}
	fmt.Fprintf(tw, "releases:\t%s\n", strings.Join(im.Releases, ", "))
	fmt.Fprintf(tw, "bun:\t%s\n", im.BunVersion)
	fmt.Fprintf(tw, "bootstrap:\t%s\n", im.BootstrapVersion)
	fmt.Fprintf(tw, "registry:\t%s\n", registry)
	fmt.Fprintf(tw, "name template:\t%s\n", im.NameTemplate)
	for _, r := range im.Releases {
		fmt.Fprintf(tw, "image macOS %s:\t%s\n", r, im.ImageName(r))
	}
	keep := max(cl.KeepBunVersions, 1)
	fmt.Fprintf(tw, "keep bun versions:\t%d\n", keep)
	emergency := "never"
	if cl.DiskEmergencyFreeBytes > 0 {
		emergency = fmt.Sprintf("under %d bytes free", cl.DiskEmergencyFreeBytes)
	}
	fmt.Fprintf(tw, "disk emergency:\t%s\n", emergency)
	if len(cl.Windows) == 0 {
		fmt.Fprintf(tw, "cleanup windows:\tnone (only disk emergencies and vmfleet prune --now prune)\n")
	}
	for _, win := range cl.Windows {
		fmt.Fprintf(tw, "cleanup window:\t%s for %s\n", win.Schedule, win.Duration.D())
	}
	if !s.UpdatedAt.IsZero() {
		fmt.Fprintf(tw, "updated:\t%s by %s\n", s.UpdatedAt.UTC().Format("2006-01-02 15:04:05Z"), s.UpdatedBy)
	}
	if s.Reason != "" {
		fmt.Fprintf(tw, "reason:\t%s\n", s.Reason)
	}
	return tw.Flush()
}

func newSpecSetCmd() *cobra.Command {
	var f opFlags
	var cf changeFlags
	var bootstrap, bun, registry, by, reason string
	var releases []string
	cmd := &cobra.Command{
		Use:   "set",
		Short: "Change the spec (POST /api/v1/spec); unset flags keep their value",
		Long: `Changes the image spec in force. Only the flags given change; the result is
validated by the orchestrator, published to KV vmfleet_spec and printed. Build
keys of the new images that were blocked start again from attempt 1. Needs the
API's bearer token (--token-file or VMFLEET_API_TOKEN).

The change's impact is printed first, per release: hosts that would become not
ready, builds that would start or be cancelled, pulls, and the VMs (and GB)
that would become prune candidates after the removal grace. --dry-run stops
there. A change that removes a release, or makes more than the orchestrator's
spec.confirm_not_ready_fraction (default 10%) of the hosts not ready, is
refused (exit 1, nothing written) unless --yes confirms it. A staged rollout
(vmfleet spec stage, then promote) changes images with no host not ready.`,
		Example: `  vmfleet spec set --bootstrap 3.7 --dry-run
  vmfleet spec set --bootstrap 3.7 --yes
  vmfleet spec set --bun 1.2.17 --releases 13,14
  vmfleet spec set --registry ""      # back to building on each host`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("releases") {
				// Refused here with the orchestrator's rule: an empty list
				// cannot even be sent (it reads as "unchanged").
				if err := events.ValidateReleases(releases); err != nil {
					return exitCode(2, fmt.Errorf("spec: %w", err))
				}
			}
			u, err := imageUpdate(cmd, "set", bootstrap, bun, registry, releases)
			if err != nil {
				return err
			}
			u.By, u.Reason = by, reason
			c, err := f.client()
			if err != nil {
				return err
			}
			return change{
				preview: func() (api.SpecPreview, error) { return c.PreviewSpec(cmd.Context(), u) },
				apply: func(confirm bool) (events.Spec, error) {
					u.Confirm = confirm
					return c.SetSpec(cmd.Context(), u)
				},
			}.run(cmd, cf, f.asJSON)
		},
	}
	f.bind(cmd)
	cf.bind(cmd)
	cmd.Flags().StringVar(&bootstrap, "bootstrap", "", "bootstrap version of the images")
	cmd.Flags().StringVar(&bun, "bun", "", "bun version of the images")
	cmd.Flags().StringSliceVar(&releases, "releases", nil, "macOS releases every host must have (comma separated)")
	cmd.Flags().StringVar(&registry, "registry", "", `OCI reference template images are pushed to and pulled from ("" builds on each host)`)
	cmd.Flags().StringVar(&by, "by", operatorName(), "who sets the spec (recorded as updated_by)")
	cmd.Flags().StringVar(&reason, "reason", "", "why the spec changes (recorded in the spec's history)")
	return cmd
}

// imageUpdate is the update spec set and spec stage send: each image flag
// given (bootstrap, bun, registry, releases) set, the others nil
// (unchanged). No flag given is a usage error (exit 2) naming verb.
func imageUpdate(cmd *cobra.Command, verb, bootstrap, bun, registry string, releases []string) (api.SpecUpdate, error) {
	var u api.SpecUpdate
	fl := cmd.Flags()
	set := func(name string, v string, dst **string) {
		if fl.Changed(name) {
			*dst = &v
		}
	}
	set("bootstrap", bootstrap, &u.BootstrapVersion)
	set("bun", bun, &u.BunVersion)
	set("registry", registry, &u.Registry)
	if fl.Changed("releases") {
		u.Releases = releases
	}
	if u.BootstrapVersion == nil && u.BunVersion == nil && u.Registry == nil && u.Releases == nil {
		return u, exitCode(2, fmt.Errorf("%w: nothing to %s: give --bootstrap, --bun, --releases or --registry", cliconfig.ErrConfig, verb))
	}
	return u, nil
}

// operatorName is user@host, for updated_by.
func operatorName() string {
	name := "operator"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if h, err := os.Hostname(); err == nil {
		name += "@" + h
	}
	return name
}
