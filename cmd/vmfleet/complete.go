package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/sim/fleetsim"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

// Dynamic shell completion: host names, build keys and spec revisions come
// from the orchestrator's API (the server, token and context the command
// line would use), enum flags from their fixed values. When the API does
// not answer within completionTimeout, Tab offers nothing more and prints
// nothing: a completion never fails loudly.

// completionTimeout bounds one completion's API request: Tab must not hang.
const completionTimeout = 2 * time.Second

// enumFlags are flags with fixed values, wherever they appear.
var enumFlags = map[string][]string{
	"log-format":   {"auto", "text", "json"},
	"log-level":    {"debug", "info", "warn", "error"},
	"rollout":      {fleetsim.RolloutImmediate, fleetsim.RolloutStaged},
	"bump":         {fleetsim.BumpBootstrap, fleetsim.BumpBun, fleetsim.BumpNone},
	"expect-prune": {fleetsim.PruneRequire, fleetsim.PruneAuto, fleetsim.PruneIgnore},
}

// wireCompletions registers the dynamic completions on the command tree:
// by flag name (enums; --host and --state of client commands) and by
// argument (HOST, KEY, REVISION, a context NAME), so a command added later
// gets them from its usage line without touching this file.
func wireCompletions(root *cobra.Command) {
	for name, vals := range enumFlags {
		if root.PersistentFlags().Lookup(name) != nil {
			_ = root.RegisterFlagCompletionFunc(name, fixedValues(vals))
		}
	}
	var walk func(c *cobra.Command, client bool)
	walk = func(c *cobra.Command, client bool) {
		for name, vals := range enumFlags {
			if c.LocalNonPersistentFlags().Lookup(name) != nil {
				_ = c.RegisterFlagCompletionFunc(name, fixedValues(vals))
			}
		}
		if client {
			if c.LocalNonPersistentFlags().Lookup("host") != nil {
				_ = c.RegisterFlagCompletionFunc("host", completeHosts)
			}
			if c.LocalNonPersistentFlags().Lookup("state") != nil && c.CommandPath() == "vmfleet build list" {
				_ = c.RegisterFlagCompletionFunc("state", fixedValues(api.BuildStates()))
			}
			if c.LocalNonPersistentFlags().Lookup("vm") != nil && c.LocalNonPersistentFlags().Lookup("host") != nil {
				_ = c.RegisterFlagCompletionFunc("vm", completeVMs)
			}
			if c.LocalNonPersistentFlags().Lookup("subject") != nil && c.Name() == "events" {
				_ = c.RegisterFlagCompletionFunc("subject", fixedValues(eventSubjects))
			}
		}
		if c.ValidArgsFunction == nil {
			arg := ""
			if f := strings.Fields(c.Use); len(f) > 1 {
				arg = strings.Trim(f[1], "[]")
			}
			switch {
			case client && arg == "HOST":
				c.ValidArgsFunction = firstArg(completeHosts)
			case client && arg == "KEY" && c.Parent() != nil && c.Parent().Name() == "build":
				c.ValidArgsFunction = firstArg(completeBuildKeys)
			case client && arg == "REVISION":
				c.ValidArgsFunction = firstArg(completeRevisions)
			case c.Parent() != nil && c.Parent().Name() == "context" && arg == "NAME":
				c.ValidArgsFunction = firstArg(completeContexts)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub, client)
		}
	}
	for _, c := range root.Commands() {
		client := slices.Contains(clientCommands, c.Name())
		if client || c.Name() == "context" {
			_ = c.RegisterFlagCompletionFunc(contextFlag, completeContexts)
		}
		walk(c, client)
	}
}

// eventSubjects are the subjects vmfleet events may follow (the prefix is
// added), with what they carry.
var eventSubjects = []cobra.Completion{
	cobra.CompletionWithDesc("host.*.health", "every host's health reports"),
	cobra.CompletionWithDesc("build.>", "build lifecycle"),
	cobra.CompletionWithDesc("prune.>", "prune outcomes"),
	cobra.CompletionWithDesc("fleet.>", "fleet readiness, tag drift, drains, forgets"),
	cobra.CompletionWithDesc("cmd.>", "commands sent to hosts"),
}

// fixedValues completes one of vals.
func fixedValues(vals []string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return vals, cobra.ShellCompDirectiveNoFileComp
	}
}

// firstArg completes the first argument with f, and nothing after it.
func firstArg(f cobra.CompletionFunc) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return f(cmd, args, toComplete)
	}
}

// completionAPI is the API client the command line being completed would
// use (its --server and --token-file, the environment, the context), and
// a context bounding the request.
func completionAPI(cmd *cobra.Command) (*api.Client, context.Context, context.CancelFunc, bool) {
	if err := applyClientContext(cmd); err != nil {
		cobra.CompDebugln("vmfleet: "+err.Error(), false)
	}
	server, tokenFile := envOr("VMFLEET_SERVER", defaultServer), os.Getenv("VMFLEET_API_TOKEN_FILE")
	if f := cmd.Flags().Lookup("server"); f != nil {
		server = f.Value.String()
	}
	if f := cmd.Flags().Lookup("token-file"); f != nil {
		tokenFile = f.Value.String()
	}
	token, err := clientToken(tokenFile)
	if err != nil {
		cobra.CompDebugln("vmfleet: "+err.Error(), false)
		return nil, nil, nil, false
	}
	parent := cmd.Context()
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithTimeout(parent, completionTimeout)
	return newAPIClient(server, token), ctx, cancel, true
}

// completeHosts completes the hosts the orchestrator knows, with their state.
func completeHosts(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	c, ctx, cancel, ok := completionAPI(cmd)
	if !ok {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	defer cancel()
	resp, err := c.Hosts(ctx)
	if err != nil {
		cobra.CompDebugln("vmfleet: hosts: "+err.Error(), false)
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, h := range resp.Hosts {
		if strings.HasPrefix(h.Host, toComplete) {
			out = append(out, cobra.CompletionWithDesc(h.Host, h.State))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeVMs completes the VMs of the --host given, from its last report.
func completeVMs(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	host := ""
	if f := cmd.Flags().Lookup("host"); f != nil {
		host = strings.Trim(f.Value.String(), "[]") // a list flag prints as [a,b]
	}
	tok, err := events.HostToken(host)
	if err != nil || strings.Contains(host, ",") {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	c, ctx, cancel, ok := completionAPI(cmd)
	if !ok {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	defer cancel()
	v, err := c.Host(ctx, tok)
	if err != nil || v.Health == nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, vm := range v.Health.VMs {
		if strings.HasPrefix(vm.Name, toComplete) {
			out = append(out, cobra.CompletionWithDesc(vm.Name, fmt.Sprintf("%d GB", vm.SizeGB)))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeBuildKeys completes the build records' keys, with their state.
func completeBuildKeys(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	c, ctx, cancel, ok := completionAPI(cmd)
	if !ok {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	defer cancel()
	resp, err := c.ListBuilds(ctx, api.BuildsQuery{})
	if err != nil {
		cobra.CompDebugln("vmfleet: builds: "+err.Error(), false)
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, r := range resp.Builds {
		if strings.HasPrefix(r.Key, toComplete) {
			out = append(out, cobra.CompletionWithDesc(r.Key, fmt.Sprintf("%s, attempt %d", r.State, r.Attempt)))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeRevisions completes the revisions of the current spec that a
// rollback may restore, newest first, with who made them and why.
func completeRevisions(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	c, ctx, cancel, ok := completionAPI(cmd)
	if !ok {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	defer cancel()
	resp, err := c.SpecHistory(ctx, 0)
	if err != nil {
		cobra.CompDebugln("vmfleet: spec history: "+err.Error(), false)
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, e := range resp.Revisions {
		rev := strconv.FormatUint(e.Revision, 10)
		if e.Key != events.SpecKey || e.Deleted || !strings.HasPrefix(rev, toComplete) {
			continue
		}
		desc := strings.TrimSpace(e.By + " " + e.Reason)
		out = append(out, cobra.CompletionWithDesc(rev, desc))
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
}

// completeContexts completes the saved contexts' names (from the file).
func completeContexts(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	path, err := clientConfigPath(cmd)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	c, err := loadClientConfig(path)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, n := range c.names() {
		if strings.HasPrefix(n, toComplete) {
			out = append(out, cobra.CompletionWithDesc(n, c.Contexts[n].Server))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
