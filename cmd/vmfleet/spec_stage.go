package main

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

// parseShare reads an --auto-promote share: "90%" or "0.9"; "" or "0" is
// none (promote by hand).
func parseShare(s string) (float64, error) {
	t := strings.TrimSpace(s)
	pct := strings.HasSuffix(t, "%")
	f, err := strconv.ParseFloat(strings.TrimSuffix(t, "%"), 64)
	if err != nil {
		return 0, fmt.Errorf("%w: --auto-promote %q: want a share of hosts such as 90%% or 0.9", cliconfig.ErrConfig, s)
	}
	if pct || f > 1 {
		f /= 100
	}
	if !(f >= 0 && f <= 1) {
		return 0, fmt.Errorf("%w: --auto-promote %q: want 0%% to 100%%", cliconfig.ErrConfig, s)
	}
	return f, nil
}

func newSpecStageCmd() *cobra.Command {
	var f opFlags
	var bootstrap, bun, registry, by, reason, auto string
	var releases []string
	cmd := &cobra.Command{
		Use:   "stage",
		Short: "Stage a spec beside the one in force (POST /api/v1/spec/next)",
		Long: `Records a staged spec: the spec in force with the flags given changed,
validated by the orchestrator and published to KV vmfleet_spec under key next.
Hosts stay ready on the current images while the staged ones are built and
pulled beside them (after the current spec's needs, and never by deleting a
current image: a host without room reports staged no_space and gets the image
after promotion). Jobs can target a staged image with its tag
vm-image-<image name>=true (docs/routing.md). vmfleet spec promote makes the
staged spec current; with --auto-promote the orchestrator does so once that
share of the non-stale hosts hold every staged image. A new stage replaces the
staged spec; vmfleet spec unstage abandons it.`,
		Example: `  vmfleet spec stage --bootstrap 3.7
  vmfleet spec stage --bun 1.2.17 --auto-promote 90%
  vmfleet spec stage --releases 14,15 --registry ghcr.io/acme/bun-build-macos-{release}:{bun}-bootstrap-{bootstrap}`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			u, err := imageUpdate(cmd, "stage", bootstrap, bun, registry, releases)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("auto-promote") {
				share, err := parseShare(auto)
				if err != nil {
					return exitCode(2, err)
				}
				u.AutoPromote = &share
			}
			u.By, u.Reason = by, reason
			c, err := f.client()
			if err != nil {
				return err
			}
			s, err := c.StageSpec(cmd.Context(), u)
			if err != nil {
				return apiError(err)
			}
			if f.asJSON {
				return printJSON(cmd.OutOrStdout(), s)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "staged spec:")
			if err := printSpec(cmd.OutOrStdout(), s); err != nil {
				return err
			}
			if s.AutoPromote > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "promoted by itself once %.0f%% of the hosts hold every staged image\n", s.AutoPromote*100)
			} else {
				fmt.Fprintln(cmd.OutOrStdout(), "promote it with: vmfleet spec promote")
			}
			return nil
		},
	}
	f.bind(cmd)
	cmd.Flags().StringVar(&bootstrap, "bootstrap", "", "bootstrap version of the staged images")
	cmd.Flags().StringVar(&bun, "bun", "", "bun version of the staged images")
	cmd.Flags().StringSliceVar(&releases, "releases", nil, "macOS releases of the staged spec (comma separated)")
	cmd.Flags().StringVar(&registry, "registry", "", `OCI reference template of the staged spec ("" builds on each host)`)
	cmd.Flags().StringVar(&auto, "auto-promote", "", "promote once this share of the non-stale hosts hold every staged image (90% or 0.9; default: by hand)")
	cmd.Flags().StringVar(&by, "by", operatorName(), "who stages the spec (recorded as updated_by)")
	cmd.Flags().StringVar(&reason, "reason", "", "why the spec changes (recorded in the spec's history)")
	return cmd
}

func newSpecPromoteCmd() *cobra.Command {
	var f opFlags
	var cf changeFlags
	var by, reason string
	cmd := &cobra.Command{
		Use:   "promote",
		Short: "Make the staged spec the spec in force (POST /api/v1/spec/promote)",
		Long: `Writes the staged spec (KV vmfleet_spec key next) as the spec in force (key
current) and deletes the staged one. Hosts that already hold the staged images
are ready at once; the old images become prune candidates under the cleanup
rules.

The impact is printed first, as for vmfleet spec set; --dry-run stops there,
and a promotion that removes a release or makes more than
spec.confirm_not_ready_fraction of the hosts not ready (hosts still without
the staged images) needs --yes.`,
		Example: `  vmfleet spec promote --dry-run
  vmfleet spec promote --by alice
  vmfleet spec promote --yes          # even with hosts short of the staged images`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			pr := api.SpecPromote{By: by, Reason: reason}
			return change{
				preview: func() (api.SpecPreview, error) { return c.PreviewPromote(cmd.Context(), pr) },
				apply: func(confirm bool) (events.Spec, error) {
					pr.Confirm = confirm
					return c.PromoteSpec(cmd.Context(), pr)
				},
			}.run(cmd, cf, f.asJSON)
		},
	}
	f.bind(cmd)
	cf.bind(cmd)
	cmd.Flags().StringVar(&by, "by", operatorName(), "who promotes (recorded as updated_by)")
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded in the spec's history; default: the stager's reason)")
	return cmd
}

func newSpecUnstageCmd() *cobra.Command {
	var f opFlags
	cmd := &cobra.Command{
		Use:     "unstage",
		Short:   "Abandon the staged spec (DELETE /api/v1/spec/next)",
		Example: "  vmfleet spec unstage",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			if err := c.UnstageSpec(cmd.Context()); err != nil {
				return apiError(err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "no staged spec: no rollout in progress")
			return nil
		},
	}
	f.bind(cmd)
	return cmd
}

// printStaged adds the staged spec to `spec show`, if there is one.
func printStaged(cmd *cobra.Command, c *api.Client) error {
	s, err := c.Next(cmd.Context())
	if api.StatusCode(err) == http.StatusNotFound {
		return nil
	}
	if err != nil {
		return apiError(err)
	}
	fmt.Fprintln(cmd.OutOrStdout(), "\nstaged spec (vmfleet spec promote makes it current):")
	return printSpec(cmd.OutOrStdout(), s)
}
