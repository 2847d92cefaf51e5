package main

import (
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
)

// TestConfigDocumented checks that every config field of the agent and the
// orchestrator has a flag (or is a secret, read from a file or env only), an
// env name, and a row in docs/configuration.md that starts with its key and
// names its flag and env names.
func TestConfigDocumented(t *testing.T) {
	agent, orch := defaultAgentConfig(), defaultOrchestratorConfig()
	for _, tt := range []struct {
		name, heading, fileEnv string
		cfg                    any
	}{
		{"agent", "## `vmfleet agent`", agentConfigEnv, &agent},
		{"orchestrator", "## `vmfleet orchestrator`", orchestratorConfigEnv, &orch},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := configDocs[tt.name]; !ok {
				t.Errorf("configDocs has no %q entry", tt.name)
			}
			docs := docsSection(t, tt.heading)
			for _, f := range cliconfig.Bind(&cobra.Command{Use: "x"}, tt.cfg, tt.fileEnv).Fields() {
				checkDocRow(t, docs, f)
			}
		})
	}
}

// docsSection is one command's section (## heading) of docs/configuration.md.
func docsSection(t *testing.T, heading string) string {
	t.Helper()
	b, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	start := strings.Index(s, heading)
	if start < 0 {
		t.Fatalf("docs/configuration.md has no %s section", heading)
	}
	s = s[start:]
	if end := strings.Index(s[1:], "\n## "); end >= 0 {
		s = s[:end+1]
	}
	return s
}

// subsection is one ### section of a docs section.
func subsection(t *testing.T, docs, heading string) string {
	t.Helper()
	start := strings.Index(docs, heading)
	if start < 0 {
		t.Fatalf("docs/configuration.md has no %s section", heading)
	}
	s := docs[start:]
	if end := strings.Index(s[1:], "\n### "); end >= 0 {
		s = s[:end+1]
	}
	return s
}

// checkDocRow checks the table row that names f's first env variable: it
// starts with f's key (secrets, which have no key, excepted) and names its
// flag and every env name.
func checkDocRow(t *testing.T, docs string, f *cliconfig.Field) {
	t.Helper()
	secret := f.Secret()
	if len(f.Envs) == 0 {
		t.Errorf("field %s has no env name", f.Key())
		return
	}
	if f.Flag == "" || (f.Flag == "-" && !secret) {
		t.Errorf("field %s has no flag", f.Key())
	}
	row := ""
	for _, line := range strings.Split(docs, "\n") {
		if strings.HasPrefix(line, "|") && strings.Contains(line, "`"+f.Envs[0]+"`") {
			row = line
			break
		}
	}
	if row == "" {
		t.Errorf("docs/configuration.md: no row for %s (env %s)", f.Key(), f.Envs[0])
		return
	}
	if !secret && !strings.HasPrefix(row, "| `"+f.Key()+"` |") {
		t.Errorf("docs row for %s does not start with its key: %s", f.Key(), row)
	}
	if f.Flag != "-" && !strings.Contains(row, "`--"+f.Flag+"`") {
		t.Errorf("docs row for %s lacks its flag --%s", f.Key(), f.Flag)
	}
	for _, e := range f.Envs {
		if !strings.Contains(row, "`"+e+"`") {
			t.Errorf("docs row for %s lacks env %s", f.Key(), e)
		}
	}
}
