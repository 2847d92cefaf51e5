package cliconfig_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
)

type testNested struct {
	Releases []string `yaml:"releases" flag:"releases" env:"T_RELEASES,T_SEED_RELEASES" help:"releases"`
	Bun      string   `yaml:"bun_version" flag:"bun" env:"T_BUN" help:"bun"`
}

type testConfig struct {
	Name     string          `yaml:"name" flag:"name" env:"T_NAME" help:"name"`
	Interval time.Duration   `yaml:"interval" flag:"interval" env:"T_INTERVAL" help:"interval"`
	TTL      events.Duration `yaml:"ttl" flag:"ttl" env:"T_TTL" help:"ttl"`
	Count    int             `yaml:"count" flag:"count" env:"T_COUNT" help:"count"`
	On       bool            `yaml:"on" flag:"on" env:"T_ON" help:"on"`
	Token    string          `yaml:"-" flag:"-" env:"T_TOKEN" help:"secret"`
	Images   testNested      `yaml:"images"`
	Windows  []events.Window `yaml:"windows" help:"windows"`
}

func runBind(t *testing.T, file string, env map[string]string, args ...string) (testConfig, error) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	cfg := testConfig{Name: "default", Interval: time.Minute, Images: testNested{Releases: []string{"14"}}}
	cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
	b := cliconfig.Bind(cmd, &cfg, "T_CONFIG")
	if file != "" {
		args = append(args, "--config", file)
	}
	cmd.SetArgs(args)
	cmd.SetOut(new(strings.Builder))
	cmd.SetErr(new(strings.Builder))
	if err := cmd.Execute(); err != nil {
		return cfg, err
	}
	return cfg, b.Load()
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigPrecedence(t *testing.T) {
	file := writeFile(t, "name: file\ninterval: 2m\ncount: 3\nimages:\n  releases: [\"13\", \"14\"]\n  bun_version: 1.2.16\nwindows:\n  - schedule: \"0 2 * * *\"\n    duration: 2h\n")
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want func(*testConfig)
	}{
		{name: "file over default", want: func(c *testConfig) {}},
		{name: "env over file", env: map[string]string{"T_NAME": "env", "T_SEED_RELEASES": "12 13"}, want: func(c *testConfig) {
			c.Name = "env"
			c.Images.Releases = []string{"12", "13"}
		}},
		{name: "first env wins", env: map[string]string{"T_RELEASES": "15", "T_SEED_RELEASES": "12"}, want: func(c *testConfig) { c.Images.Releases = []string{"15"} }},
		{name: "flag over env", env: map[string]string{"T_NAME": "env"}, args: []string{"--name", "flag", "--releases", "11", "--releases", "12", "--on", "--ttl", "90s"}, want: func(c *testConfig) {
			c.Name = "flag"
			c.Images.Releases = []string{"11", "12"}
			c.On = true
			c.TTL = events.Duration(90 * time.Second)
		}},
		{name: "secret from env", env: map[string]string{"T_TOKEN": "s3cret"}, want: func(c *testConfig) { c.Token = "s3cret" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := runBind(t, file, tt.env, tt.args...)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			want := testConfig{Name: "file", Interval: 2 * time.Minute, Count: 3,
				Images:  testNested{Releases: []string{"13", "14"}, Bun: "1.2.16"},
				Windows: []events.Window{{Schedule: "0 2 * * *", Duration: events.Duration(2 * time.Hour)}}}
			tt.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	tests := []struct {
		name, file string
		env        map[string]string
		args       []string
		want       string
	}{
		{name: "unknown top key", file: "name: x\nnmae: y\n", want: `line 2: unknown key "nmae"`},
		{name: "unknown nested key", file: "images:\n  bun: 1\n", want: `unknown key "images.bun"`},
		{name: "unknown key in list item", file: "windows:\n  - schedule: x\n    durration: 1h\n", want: "key windows"},
		{name: "bad duration", file: "interval: soon\n", want: "key interval"},
		{name: "secret not in file", file: "token: x\n", want: `unknown key "token"`},
		{name: "bad env", env: map[string]string{"T_COUNT": "many"}, want: "env T_COUNT"},
		{name: "bad flag", args: []string{"--count", "many"}, want: "--count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := ""
			if tt.file != "" {
				file = writeFile(t, tt.file)
			}
			_, err := runBind(t, file, tt.env, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Got(load) error = %v, want it to mention %q", err, tt.want)
			}
			if file != "" && !strings.Contains(err.Error(), file) && tt.env == nil && tt.args == nil {
				t.Errorf("error %q does not name the file %s", err, file)
			}
		})
	}
}

// Shared is exported: a section embedded from an unexported type is not
// settable through reflection.
type Shared struct {
	URL    string `yaml:"url" flag:"url" env:"T_URL" help:"generic"`
	Prefix string `yaml:"prefix" flag:"prefix" env:"T_PREFIX" help:"prefix"`
}

type testSection struct {
	Shared `yaml:",inline"`
	Listen string `yaml:"listen" flag:"listen" env:"T_LISTEN" help:"listen"`
}

type testEmbedding struct {
	Conn testSection `yaml:"conn"`
}

func (testEmbedding) ConfigHelp() map[string]string {
	return map[string]string{"conn.url": "particular"}
}

// TestInlineSectionAndHelp: an embedded inline section's keys sit beside the
// embedder's, and a Helper rewords a shared key.
func TestInlineSectionAndHelp(t *testing.T) {
	cfg := testEmbedding{}
	cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
	b := cliconfig.Bind(cmd, &cfg, "T_CONFIG")
	var keys []string
	for _, f := range b.Fields() {
		keys = append(keys, f.Key())
	}
	if diff := cmp.Diff([]string{"conn.url", "conn.prefix", "conn.listen"}, keys); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	if got := cmd.Flags().Lookup("url").Usage; !strings.HasPrefix(got, "particular") {
		t.Errorf("Got(--url help) = %q, want the Helper's", got)
	}
	cmd.SetArgs([]string{"--config", writeFile(t, "conn:\n  url: u\n  prefix: p\n  listen: l\n")})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if err := b.Load(); err != nil {
		t.Fatal(err)
	}
	if want := (testSection{Shared{URL: "u", Prefix: "p"}, "l"}); cfg.Conn != want {
		t.Errorf("Got(config) = %+v, want %+v", cfg.Conn, want)
	}
}

// TestSetDefault: a value set through a flag's SetDefault sits below the
// file, the environment and the flag.
func TestSetDefault(t *testing.T) {
	type defaulter interface{ SetDefault(string) error }
	for _, tt := range []struct {
		name, file string
		env        map[string]string
		args       []string
		wantName   string
		wantRel    []string
	}{
		{name: "default only", wantName: "ctx", wantRel: []string{"12", "13"}},
		{name: "file over it", file: "name: file\nimages:\n  releases: [\"14\"]\n", wantName: "file", wantRel: []string{"14"}},
		{name: "env over it", env: map[string]string{"T_NAME": "env"}, wantName: "env", wantRel: []string{"12", "13"}},
		{name: "flag over it", args: []string{"--name", "flag", "--releases", "15"}, wantName: "flag", wantRel: []string{"15"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var cfg testConfig
			cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
			b := cliconfig.Bind(cmd, &cfg, "T_CONFIG")
			args := tt.args
			if tt.file != "" {
				args = append(args, "--config", writeFile(t, tt.file))
			}
			cmd.SetArgs(args)
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			for flag, v := range map[string]string{"name": "ctx", "releases": "12,13"} {
				d, ok := cmd.Flags().Lookup(flag).Value.(defaulter)
				if !ok {
					t.Fatalf("--%s has no SetDefault", flag)
				}
				if err := d.SetDefault(v); err != nil {
					t.Fatal(err)
				}
			}
			if err := b.Load(); err != nil {
				t.Fatal(err)
			}
			if cfg.Name != tt.wantName || !cmp.Equal(cfg.Images.Releases, tt.wantRel) {
				t.Errorf("Got(name, releases) = %q, %v, want %q, %v", cfg.Name, cfg.Images.Releases, tt.wantName, tt.wantRel)
			}
		})
	}
}

// TestConfigTypeErrorsShowAValidSetting: a value of the wrong type, in the
// file, env or a flag, is one line naming the key, what it takes and a valid
// setting of it (the key's default where it has one).
func TestConfigTypeErrorsShowAValidSetting(t *testing.T) {
	tests := []struct {
		name, file string
		env        map[string]string
		args       []string
		want       string
	}{
		{name: "file duration", file: "interval: five\n",
			want: `line 1: key interval: got "five", want a duration; a valid line: interval: 1m`},
		{name: "file number as duration", file: "interval: 5\n",
			want: `line 1: key interval: got "5", want a duration; a valid line: interval: 1m`},
		{name: "file bool", file: "on: yes please\n",
			want: `line 1: key on: got "yes please", want true or false; a valid line: on: true`},
		{name: "file int", file: "count: many\n",
			want: `line 1: key count: got "many", want a whole number; a valid line: count: 10`},
		{name: "file list", file: "images:\n  releases: {a: 1}\n",
			want: `line 2: key images.releases: got a mapping, want a list; a valid line: releases: ["14"]`},
		{name: "file text", file: "name: [a]\n",
			want: `line 1: key name: got a list, want text; a valid line: name: default`},
		{name: "env duration", env: map[string]string{"T_INTERVAL": "five"},
			want: `configuration: env T_INTERVAL="five" (key interval): want a duration, e.g. T_INTERVAL=1m`},
		{name: "env bool", env: map[string]string{"T_ON": "maybe"},
			want: `configuration: env T_ON="maybe" (key on): want true or false, e.g. T_ON=true`},
		{name: "flag int", args: []string{"--count", "many"},
			want: `invalid argument "many" for "--count" flag: want a whole number, e.g. --count 10`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := ""
			if tt.file != "" {
				file = writeFile(t, tt.file)
			}
			_, err := runBind(t, file, tt.env, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Got(load) error = %v, want it to hold %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("Got(load) error = %q, want one line", err)
			}
		})
	}
}

// TestSetDefaultTypeError: a saved default of the wrong type says what the
// key takes, with a valid value.
func TestSetDefaultTypeError(t *testing.T) {
	var cfg testConfig
	cmd := &cobra.Command{Use: "x"}
	cliconfig.Bind(cmd, &cfg, "T_CONFIG")
	d, ok := cmd.Flags().Lookup("count").Value.(interface{ SetDefault(string) error })
	if !ok {
		t.Fatal("--count has no SetDefault")
	}
	if err := d.SetDefault("many"); err == nil || err.Error() != "want a whole number, e.g. 10" {
		t.Errorf("Got(SetDefault(many)) = %v, want %q", err, "want a whole number, e.g. 10")
	}
}
