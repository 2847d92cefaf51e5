package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
	"gopkg.in/yaml.v3"
)

// The client config: named contexts (where the orchestrator and NATS are,
// and with which credentials) so that client commands need no flags day to
// day. Precedence of each setting: flag > environment > context > default
// (docs/configuration.md, section "Client contexts").
const (
	clientConfigEnv  = "VMFLEET_CLIENT_CONFIG"
	contextEnv       = "VMFLEET_CONTEXT"
	clientConfigFlag = "client-config"
	contextFlag      = "context"
)

// clientCommands are the top-level commands a context applies to.
var clientCommands = []string{"status", "events", "spec", "prune", "host", "build"}

// clientConfig is the client config file.
type clientConfig struct {
	CurrentContext string                   `yaml:"current_context,omitempty"`
	Contexts       map[string]clientContext `yaml:"contexts,omitempty"`
}

// clientContext is one named context; an empty field leaves the command's
// default.
type clientContext struct {
	Server       string `yaml:"server,omitempty"`
	TokenFile    string `yaml:"token_file,omitempty"`
	NATSURL      string `yaml:"nats_url,omitempty"`
	NATSCreds    string `yaml:"nats_creds,omitempty"`
	NATSNKeySeed string `yaml:"nats_nkey_seed,omitempty"`
	NATSCA       string `yaml:"nats_ca,omitempty"`
}

// contextSetting ties a context key to the client commands' flag and the
// environment variables that win over it.
type contextSetting struct {
	key, flag string
	envs      []string
	field     func(*clientContext) *string
	file      bool // a path: made absolute when saved, ~/ expanded when used
	auth      bool // NATS credentials: skipped when any other is given
	help      string
}

var contextSettings = []contextSetting{
	{key: "server", flag: "server", envs: []string{"VMFLEET_SERVER"},
		field: func(c *clientContext) *string { return &c.Server }, help: "orchestrator API base URL"},
	{key: "token_file", flag: "token-file", envs: []string{"VMFLEET_API_TOKEN_FILE", "VMFLEET_API_TOKEN"},
		field: func(c *clientContext) *string { return &c.TokenFile }, file: true, help: "file holding the API bearer token"},
	{key: "nats_url", flag: "nats-url", envs: []string{"VMFLEET_NATS_URL"},
		field: func(c *clientContext) *string { return &c.NATSURL }, help: "NATS server URLs (comma separated), for vmfleet events"},
	{key: "nats_creds", flag: "nats-creds", envs: []string{"VMFLEET_NATS_CREDS"},
		field: func(c *clientContext) *string { return &c.NATSCreds }, file: true, auth: true, help: "NATS user credentials (JWT) file"},
	{key: "nats_nkey_seed", flag: "nats-nkey-seed", envs: []string{"VMFLEET_NATS_NKEY_SEED"},
		field: func(c *clientContext) *string { return &c.NATSNKeySeed }, file: true, auth: true, help: "file holding a NATS NKey seed (a consumer identity from vmfleet nats-config --consumer)"},
	{key: "nats_ca", flag: "nats-ca", envs: []string{"VMFLEET_NATS_CA"},
		field: func(c *clientContext) *string { return &c.NATSCA }, file: true, help: "CA certificate file for NATS TLS"},
}

// natsAuthFlags and natsAuthEnvs give NATS credentials: when any is set, a
// context's NATS credentials are left out (two kinds would clash).
var (
	natsAuthFlags = []string{"nats-creds", "nats-nkey-seed", "nats-user", "nats-password-file"}
	natsAuthEnvs  = []string{"VMFLEET_NATS_CREDS", "VMFLEET_NATS_NKEY_SEED", "VMFLEET_NATS_USER", "VMFLEET_NATS_PASSWORD", "VMFLEET_NATS_PASSWORD_FILE"}
)

// defaultClientConfigPath is $XDG_CONFIG_HOME/vmfleet/config.yaml, else
// ~/.config/vmfleet/config.yaml (on macOS too, as other CLIs of the kind).
func defaultClientConfigPath() (string, error) {
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "vmfleet", "config.yaml"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("%w: client config: no home directory (%v): set --%s or %s", cliconfig.ErrConfig, err, clientConfigFlag, clientConfigEnv)
	}
	return filepath.Join(home, ".config", "vmfleet", "config.yaml"), nil
}

// clientConfigPath is --client-config, else VMFLEET_CLIENT_CONFIG, else the default.
func clientConfigPath(cmd *cobra.Command) (string, error) {
	if f := cmd.Flags().Lookup(clientConfigFlag); f != nil && f.Changed && f.Value.String() != "" {
		return f.Value.String(), nil
	}
	if p := os.Getenv(clientConfigEnv); p != "" {
		return p, nil
	}
	return defaultClientConfigPath()
}

// loadClientConfig reads the file; a missing file is an empty config.
func loadClientConfig(path string) (clientConfig, error) {
	var c clientConfig
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("%w: client config: %v", cliconfig.ErrConfig, err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return c, fmt.Errorf("%w: client config %s: %v", cliconfig.ErrConfig, path, err)
	}
	return c, nil
}

// save writes the file (0600, in a 0700 directory) through a temporary
// file, so a reader never sees half of it.
func (c clientConfig) save(path string) error {
	data, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("client config: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".config-*.yaml")
	if err != nil {
		return fmt.Errorf("client config: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("client config: %w", err)
	}
	if _, err := tmp.Write(append([]byte("# vmfleet client contexts: written by vmfleet context set/use/delete\n"), data...)); err != nil {
		tmp.Close()
		return fmt.Errorf("client config: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("client config: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("client config: %w", err)
	}
	return nil
}

// names are the contexts' names, sorted.
func (c clientConfig) names() []string {
	out := make([]string, 0, len(c.Contexts))
	for n := range c.Contexts {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// lookup is the named context, or an error naming the file and the contexts it has.
func (c clientConfig) lookup(path, name string) (clientContext, error) {
	if ctx, ok := c.Contexts[name]; ok {
		return ctx, nil
	}
	have := "it has none: create one with vmfleet context set " + name + " --server URL"
	if n := c.names(); len(n) > 0 {
		have = "it has " + strings.Join(n, ", ")
	}
	return clientContext{}, fmt.Errorf("%w: context %q is not in %s (%s)", cliconfig.ErrConfig, name, path, have)
}

// selectedContext names the context a call uses and why: --context, else
// VMFLEET_CONTEXT, else the file's current context ("" for none).
func selectedContext(cmd *cobra.Command, c clientConfig) (name, from string) {
	if f := cmd.Flags().Lookup(contextFlag); f != nil && f.Changed {
		return f.Value.String(), "--" + contextFlag
	}
	if n := os.Getenv(contextEnv); n != "" {
		return n, "env " + contextEnv
	}
	return c.CurrentContext, "current context"
}

// activeContext is the context this call uses (ok false when none), read
// from the client config file.
func activeContext(cmd *cobra.Command) (ctx clientContext, name, path string, ok bool, err error) {
	path, err = clientConfigPath(cmd)
	if err != nil {
		return ctx, "", "", false, err
	}
	c, err := loadClientConfig(path)
	if err != nil {
		return ctx, "", path, false, err
	}
	name, _ = selectedContext(cmd, c)
	if name == "" {
		return ctx, "", path, false, nil
	}
	ctx, err = c.lookup(path, name)
	return ctx, name, path, err == nil, err
}

// overriddenBy names the flag or environment variable that wins over s for
// cmd, or "" when the context's value applies.
func (s contextSetting) overriddenBy(flags *pflag.FlagSet) string {
	if f := flags.Lookup(s.flag); f != nil && f.Changed {
		return "--" + s.flag
	}
	for _, e := range s.envs {
		if os.Getenv(e) != "" {
			return "env " + e
		}
	}
	if s.auth {
		for _, n := range natsAuthFlags {
			if f := flags.Lookup(n); f != nil && f.Changed {
				return "--" + n
			}
		}
		for _, e := range natsAuthEnvs {
			if os.Getenv(e) != "" {
				return "env " + e
			}
		}
	}
	return ""
}

// applyClientContext sets, on cmd's flags, every setting of the context in
// use that no flag or environment variable gives: as the flag's default,
// so the command's own config file (vmfleet events --config) still wins.
// It notes on cmd which context gave which settings (contextNote).
func applyClientContext(cmd *cobra.Command) error {
	ctx, name, path, ok, err := activeContext(cmd)
	if err != nil || !ok {
		return err
	}
	var applied []string
	defer func() {
		if len(applied) > 0 {
			if cmd.Annotations == nil {
				cmd.Annotations = map[string]string{}
			}
			cmd.Annotations[contextAnnotation] = fmt.Sprintf("%s from context %q in %s", strings.Join(applied, " and "), name, path)
		}
	}()
	flags := cmd.Flags()
	for _, s := range contextSettings {
		v := *s.field(&ctx)
		f := flags.Lookup(s.flag)
		if v == "" || f == nil || s.overriddenBy(flags) != "" {
			continue
		}
		if s.file {
			v = expandHome(v)
		}
		if d, ok := f.Value.(interface{ SetDefault(string) error }); ok {
			err = d.SetDefault(v)
		} else {
			err = f.Value.Set(v)
		}
		if err != nil {
			return fmt.Errorf("%w: context setting %s %q: %v", cliconfig.ErrConfig, s.key, v, err)
		}
		applied = append(applied, s.key)
	}
	return nil
}

// contextAnnotation is the cobra annotation applyClientContext leaves.
const contextAnnotation = "vmfleet.context"

// contextNote adds to a failed client command's error where the settings
// it used came from, when a context gave any: a server that does not answer
// or a token refused is then traced to the context rather than to flags
// nobody typed. Exit codes and their errors are left as they are.
func contextNote(cmd *cobra.Command, err error) error {
	note := cmd.Annotations[contextAnnotation]
	if err == nil || note == "" || errors.Is(err, cliconfig.ErrConfig) {
		return err
	}
	if _, ok := errors.AsType[*exitError](err); ok {
		return err
	}
	return fmt.Errorf("%w (%s)", err, note)
}

// expandHome expands a leading ~/ (a path written by hand in the file).
func expandHome(p string) string {
	rest, ok := strings.CutPrefix(p, "~/")
	if !ok {
		return p
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, rest)
	}
	return p
}

// wireClientContexts gives the client commands --context and
// --client-config and applies the context before they run.
func wireClientContexts(root *cobra.Command) {
	for _, c := range root.Commands() {
		if !slices.Contains(clientCommands, c.Name()) {
			continue
		}
		contextFlags(c)
		noteContext(c)
		prev := c.PersistentPreRunE
		c.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
			if err := applyClientContext(cmd); err != nil {
				return err
			}
			if prev != nil {
				return prev(cmd, args)
			}
			return nil
		}
	}
}

// noteContext makes every runnable command under c say, on failure, which
// settings its context gave (contextNote).
func noteContext(c *cobra.Command) {
	if run := c.RunE; run != nil {
		c.RunE = func(cmd *cobra.Command, args []string) error { return contextNote(cmd, run(cmd, args)) }
	}
	for _, sub := range c.Commands() {
		noteContext(sub)
	}
}

// contextFlags registers --context and --client-config on c and its subcommands.
func contextFlags(c *cobra.Command) {
	c.PersistentFlags().String(contextFlag, "", "saved context to use for this call (vmfleet context list) [env "+contextEnv+"]")
	c.PersistentFlags().String(clientConfigFlag, "", "client config file holding the contexts (default $XDG_CONFIG_HOME/vmfleet/config.yaml or ~/.config/vmfleet/config.yaml) [env "+clientConfigEnv+"]")
}
