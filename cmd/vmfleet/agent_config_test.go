package main

import (
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
)

func TestAgentConfigSeedEnv(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want func(*agentConfig)
	}{
		{name: "defaults are the seed's", want: func(*agentConfig) {}},
		{name: "seed env", env: map[string]string{"MACOS_VERSIONS_TO_CHECK": "13 14", "BUN_VERSION": "1.2.17", "REQUIRED_BOOTSTRAP_VERSION": "3.7"},
			want: func(c *agentConfig) {
				c.Images.Releases, c.Images.BunVersion, c.Images.BootstrapVersion = []string{"13", "14"}, "1.2.17", "3.7"
			}},
		{name: "MACOS_VERSIONS_TO_CHECK wins over MACOS_RELEASE", env: map[string]string{"MACOS_VERSIONS_TO_CHECK": "15", "MACOS_RELEASE": "13"},
			want: func(c *agentConfig) { c.Images.Releases = []string{"15"} }},
		{name: "MACOS_RELEASE alone", env: map[string]string{"MACOS_RELEASE": "13"},
			want: func(c *agentConfig) { c.Images.Releases = []string{"13"} }},
		{name: "vmfleet names win", env: map[string]string{"VMFLEET_RELEASES": "12", "MACOS_RELEASE": "13", "VMFLEET_BUN_VERSION": "2.0.0", "BUN_VERSION": "1.0.0"},
			want: func(c *agentConfig) { c.Images.Releases, c.Images.BunVersion = []string{"12"}, "2.0.0" }},
		{name: "flags win", env: map[string]string{"MACOS_RELEASE": "13", "TART_HOME": "/v/tart"}, args: []string{"--release", "14,15", "--host", "mac.01", "--interval", "30s", "--nats-url", "nats://a:4222,nats://b:4222"},
			want: func(c *agentConfig) {
				c.Images.Releases, c.Host, c.Check.Interval, c.Tart.Home = []string{"14", "15"}, "mac.01", 30*time.Second, "/v/tart"
				c.NATS.URLs = []string{"nats://a:4222", "nats://b:4222"}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"VMFLEET_RELEASES", "MACOS_VERSIONS_TO_CHECK", "MACOS_RELEASE", "VMFLEET_BUN_VERSION", "BUN_VERSION",
				"VMFLEET_BOOTSTRAP_VERSION", "REQUIRED_BOOTSTRAP_VERSION", "BOOTSTRAP_VERSION", "TART_HOME", "VMFLEET_AGENT_CONFIG"} {
				t.Setenv(k, "")
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg := defaultAgentConfig()
			cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
			b := cliconfig.Bind(cmd, &cfg, agentConfigEnv)
			cmd.SetArgs(tt.args)
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			if err := b.Load(); err != nil {
				t.Fatal(err)
			}
			want := defaultAgentConfig()
			tt.want(&want)
			if diff := cmp.Diff(want, cfg); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
			if _, err := cfg.agentdConfig().WithDefaults(); err != nil {
				t.Errorf("agentd rejects the config: %v", err)
			}
		})
	}
}

func TestAgentConfigMapsEveryField(t *testing.T) {
	// Every agentd.Config field is set from the command's config.
	cfg := agentConfig{Host: "h", AgentName: "a", StateDir: "/s", Images: agentImages{NameTemplate: "t", Releases: []string{"1"}, BunVersion: "b", BootstrapVersion: "c", Registry: "r"},
		Tart:  agentTart{Home: "/t", Timeout: 1, PullTimeout: 2},
		Check: agentCheck{Interval: 3, Schedule: "s", Heartbeat: 4}, NATS: agentNATS{NATSConn: NATSConn{SubjectPrefix: "p"}}}
	v := reflect.ValueOf(cfg.agentdConfig())
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Errorf("agentd.Config.%s is not set from the command's config", v.Type().Field(i).Name)
		}
	}
}
