package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestEveryCommandHasAnExample walks the command tree: every command that
// runs has --help with an Example, and the operator commands exist.
func TestEveryCommandHasAnExample(t *testing.T) {
	root := newRootCmd(new(bytes.Buffer), new(bytes.Buffer))
	var walk func(c *cobra.Command)
	seen := map[string]bool{}
	walk = func(c *cobra.Command) {
		seen[c.CommandPath()] = true
		if c.Runnable() && !c.Hidden && strings.TrimSpace(c.Example) == "" {
			t.Errorf("Got(%q Example) = empty, want examples in its --help", c.CommandPath())
		}
		if c.Runnable() && c.Short == "" {
			t.Errorf("Got(%q Short) = empty, want a one-line summary", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	for _, want := range []string{"vmfleet version", "vmfleet status", "vmfleet events", "vmfleet completion bash",
		"vmfleet completion zsh", "vmfleet completion fish", "vmfleet completion powershell"} {
		if !seen[want] {
			t.Errorf("Got(command tree) lacks %q", want)
		}
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, tt := range []struct{ shell, want string }{
		{"bash", "__start_vmfleet"}, {"zsh", "#compdef vmfleet"}, {"fish", "complete -c vmfleet"}, {"powershell", "Register-ArgumentCompleter"},
	} {
		t.Run(tt.shell, func(t *testing.T) {
			var out, errw bytes.Buffer
			if code := execute(context.Background(), []string{"completion", tt.shell}, &out, &errw); code != 0 {
				t.Fatalf("Got(exit) = %d (%s), want 0", code, errw.String())
			}
			if !strings.Contains(out.String(), tt.want) {
				t.Errorf("Got(completion %s) lacks %q", tt.shell, tt.want)
			}
		})
	}
}
