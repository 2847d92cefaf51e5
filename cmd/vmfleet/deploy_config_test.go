package main

import (
	"bufio"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
	"github.com/vmfleet/vmfleet/orchestrator"
)

// deployDir is the repository's deploy/ directory.
const deployDir = "../../deploy"

// loadDeployConfig loads a file through the command's own binder, exactly as
// `vmfleet <cmd> --config FILE` would, and returns the binder (for its
// fields' env names).
func loadDeployConfig(t *testing.T, cfg any, fileEnv, file string) *cliconfig.Binder {
	t.Helper()
	cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
	b := cliconfig.Bind(cmd, cfg, fileEnv)
	cmd.SetArgs([]string{"--config", file})
	cmd.SetOut(new(strings.Builder))
	cmd.SetErr(new(strings.Builder))
	if err := cmd.Execute(); err != nil {
		t.Fatalf("flags: %v", err)
	}
	if err := b.Load(); err != nil {
		t.Fatalf("Got(load %s) = %v, want the example to load", file, err)
	}
	return b
}

func envNames(b *cliconfig.Binder) map[string]bool {
	out := map[string]bool{"VMFLEET_LOG_FORMAT": true, "VMFLEET_LOG_LEVEL": true}
	for _, f := range b.Fields() {
		for _, e := range f.Envs {
			out[e] = true
		}
	}
	return out
}

// clearVMFleetEnv keeps the machine's environment out of the examples.
func clearVMFleetEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "VMFLEET_") || k == "TART_HOME" || k == "BUILDKITE_API_TOKEN" {
			t.Setenv(k, "")
		}
	}
}

func TestDeployConfigsLoad(t *testing.T) {
	clearVMFleetEnv(t)
	log := slog.New(slog.DiscardHandler)
	t.Run("agent", func(t *testing.T) {
		cfg := defaultAgentConfig()
		b := loadDeployConfig(t, &cfg, agentConfigEnv, filepath.Join(deployDir, "config", "agent.yaml"))
		if _, err := cfg.agentdConfig().WithDefaults(); err != nil {
			t.Errorf("Got(agent config) = %v, want valid", err)
		}
		// The supervise lever looks buildkite-agent up in PATH: a stand-in.
		bin := t.TempDir()
		if err := os.WriteFile(filepath.Join(bin, "buildkite-agent"), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
		if _, _, err := cfg.Buildkite.lever(log, nil); err != nil {
			t.Errorf("Got(buildkite lever) = %v, want valid", err)
		}
		if cfg.NATS.NKeySeedFile == "" || len(cfg.NATS.URLs) == 0 || !strings.HasPrefix(cfg.NATS.URLs[0], "tls://") {
			t.Errorf("Got(nats) = %+v, want per-host NKey credentials over TLS by default", cfg.NATS)
		}
		checkEnvNames(t, b, readPlistEnv(t, filepath.Join(deployDir, "launchd", "dev.vmfleet.agent.plist")), "launchd plist")
	})
	t.Run("orchestrator", func(t *testing.T) {
		cfg := defaultOrchestratorConfig()
		b := loadDeployConfig(t, &cfg, orchestratorConfigEnv, filepath.Join(deployDir, "config", "orchestrator.yaml"))
		ocfg := cfg.orchestratorCfg("test", "api-token", "secret", "")
		if _, err := orchestrator.New(nil, nil, ocfg); err != nil {
			t.Errorf("Got(orchestrator.New with the example) = %v, want valid", err)
		}
		if _, err := cfg.buildkite("token", log); err != nil {
			t.Errorf("Got(Buildkite client) = %v, want valid", err)
		}
		for key, v := range map[string]string{"api_token_file": cfg.APITokenFile, "buildkite.token_file": cfg.Buildkite.TokenFile,
			"webhook.secret_file": cfg.Webhook.SecretFile, "nats.nkey_seed_file": cfg.NATS.NKeySeedFile, "nats.server_config": cfg.NATS.ServerConfig} {
			if v == "" {
				t.Errorf("Got(%s) = empty, want the example to show it (secrets and per-host NATS auth by default)", key)
			}
		}
		checkEnvNames(t, b, readUnitEnv(t, filepath.Join(deployDir, "systemd", "vmfleet-orchestrator.service")), "systemd unit")
		checkEnvNames(t, b, readDockerEnv(t, filepath.Join(deployDir, "docker", "Dockerfile")), "Dockerfile")
	})
}

// checkEnvNames asserts every VMFLEET_* variable a deploy file sets is one
// the command reads: a typo would be silently ignored.
func checkEnvNames(t *testing.T, b *cliconfig.Binder, set []string, where string) {
	t.Helper()
	known := envNames(b)
	for _, k := range set {
		if strings.HasPrefix(k, "VMFLEET_") && !known[k] {
			t.Errorf("Got(%s sets %s) = not a variable the command reads", where, k)
		}
	}
	if len(set) == 0 {
		t.Errorf("Got(%s) = no environment variables found, want some", where)
	}
}

func readPlistEnv(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, env, _ := strings.Cut(string(b), "<key>EnvironmentVariables</key>")
	env, _, _ = strings.Cut(env, "</dict>")
	var out []string
	for _, m := range regexp.MustCompile(`<key>([^<]+)</key>`).FindAllStringSubmatch(env, -1) {
		out = append(out, m[1])
	}
	return out
}

func readUnitEnv(t *testing.T, path string) []string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "Environment="); ok {
			k, _, _ := strings.Cut(v, "=")
			out = append(out, k)
		}
	}
	return out
}

func readDockerEnv(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range regexp.MustCompile(`(VMFLEET_[A-Z_]+)=`).FindAllStringSubmatch(string(b), -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}
