package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestClientContextDocumented: every context setting has a row in
// docs/configuration.md naming its key, flag and variables, and its flag
// exists on a client command (so a renamed flag cannot leave the context
// setting nothing).
func TestClientContextDocumented(t *testing.T) {
	docs := docsSection(t, "## Client contexts (`vmfleet context`)")
	row := func(key string) string {
		for _, line := range strings.Split(docs, "\n") {
			if strings.HasPrefix(line, "| `"+key+"` |") {
				return line
			}
		}
		t.Errorf("docs/configuration.md: no row for %s", key)
		return ""
	}
	root := newRootCmd(new(bytes.Buffer), new(bytes.Buffer))
	for _, s := range contextSettings {
		r := row("contexts.NAME." + s.key)
		for _, w := range append([]string{"--" + s.flag}, s.envs...) {
			if r != "" && !strings.Contains(r, "`"+w+"`") {
				t.Errorf("docs row for %s lacks %s", s.key, w)
			}
		}
		found := false
		for _, c := range root.Commands() {
			if slices.Contains(clientCommands, c.Name()) && hasFlag(c, s.flag) {
				found = true
			}
		}
		if !found {
			t.Errorf("no client command has --%s (context key %s)", s.flag, s.key)
		}
	}
	if r := row("current_context"); !strings.Contains(r, "`--context`") || !strings.Contains(r, "`"+contextEnv+"`") {
		t.Errorf("docs row for current_context lacks --context or %s: %s", contextEnv, r)
	}
	if !strings.Contains(docs, "`--client-config`") || !strings.Contains(docs, "`"+clientConfigEnv+"`") {
		t.Errorf("docs lack --client-config or %s", clientConfigEnv)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"`vmfleet context set NAME", "`" + contextEnv + "`", "`" + clientConfigEnv + "`", "flag > environment > context > default"} {
		if !strings.Contains(string(readme), w) {
			t.Errorf("README lacks %q", w)
		}
	}
}

// hasFlag reports whether c or a command under it has the flag.
func hasFlag(c *cobra.Command, name string) bool {
	if c.Flags().Lookup(name) != nil {
		return true
	}
	for _, sub := range c.Commands() {
		if hasFlag(sub, name) {
			return true
		}
	}
	return false
}

func TestClientConfigFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("contexts:\n  prod:\n    server: http://x\n    sever: http://y\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadClientConfig(bad); err == nil || !strings.Contains(err.Error(), "line 4") || !strings.Contains(err.Error(), "sever") || !strings.Contains(err.Error(), bad) {
		t.Errorf("Got(unknown key) = %v, want an error naming the file, the key and its line", err)
	}
	if c, err := loadClientConfig(filepath.Join(dir, "none.yaml")); err != nil || len(c.Contexts) != 0 {
		t.Errorf("Got(missing file) = %+v, %v, want an empty config", c, err)
	}
	empty := filepath.Join(dir, "empty.yaml")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadClientConfig(empty); err != nil {
		t.Errorf("Got(empty file) = %v, want no error", err)
	}
	t.Setenv("XDG_CONFIG_HOME", "/xdg")
	if p, _ := defaultClientConfigPath(); p != "/xdg/vmfleet/config.yaml" {
		t.Errorf("Got(path with XDG_CONFIG_HOME) = %q", p)
	}
	t.Setenv("XDG_CONFIG_HOME", "relative") // the XDG spec says: ignore it
	t.Setenv("HOME", "/home/me")
	if p, _ := defaultClientConfigPath(); p != "/home/me/.config/vmfleet/config.yaml" {
		t.Errorf("Got(path without XDG_CONFIG_HOME) = %q", p)
	}
}

func TestContextNames(t *testing.T) {
	for name, ok := range map[string]bool{"prod": true, "eu-west.1": true, "Staging_2": true, "": false, "a b": false, "x/y": false} {
		if got := validContextName(name) == nil; got != ok {
			t.Errorf("Got(validContextName(%q) ok) = %v, want %v", name, got, ok)
		}
	}
}
