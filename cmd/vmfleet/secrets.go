package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/vmfleet/vmfleet/internal/cliconfig"
	"github.com/vmfleet/vmfleet/internal/redact"
)

// secret is a config value that must never print: env or file only, never a
// flag (`flag:"-"`), and masked by fmt, slog and marshalling.
type secret = redact.Secret

// secretKey reports whether an environment variable name holds a secret
// value (not a path to one).
func secretKey(key string) bool {
	k := strings.ToUpper(key)
	if strings.HasSuffix(k, "_FILE") || strings.HasSuffix(k, "_PATH") {
		return false
	}
	for _, w := range []string{"TOKEN", "SECRET", "PASSWORD", "PASSWD", "PRIVATE_KEY"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// secretEnvValues are the values of the secret-named variables in environ
// ("KEY=VALUE" each): every command's logger masks them from the start.
func secretEnvValues(environ []string) []string {
	var out []string
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && v != "" && secretKey(k) {
			out = append(out, v)
		}
	}
	return out
}

// checkAgentEnv refuses secrets in buildkite.env: it may come from a flag,
// which any user sees in ps. buildkite-agent inherits agentd's environment,
// so BUILDKITE_AGENT_TOKEN belongs there (or in buildkite-agent.cfg).
func checkAgentEnv(env []string) error {
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); secretKey(k) {
			return fmt.Errorf("%w: buildkite.env: %s looks like a secret: set it in vmfleet's own environment (buildkite-agent inherits it) or in buildkite-agent.cfg, not on the command line", cliconfig.ErrConfig, k)
		}
	}
	return nil
}

// checkNATSURLs refuses credentials in NATS URLs ("nats://user:pw@host", or
// a token as "nats://token@host"): a URL may come from a flag and shows in
// ps. The error shows the URL masked.
func checkNATSURLs(urls []string) error {
	for _, u := range urls {
		if redact.HasUserinfo(u) {
			return fmt.Errorf("%w: nats.urls: %s carries credentials: set nats.user and nats.password_file (or VMFLEET_NATS_PASSWORD), or use nats.nkey_seed_file", cliconfig.ErrConfig, redact.URL(u))
		}
	}
	return nil
}

// checkURLs refuses credentials in the orchestrator's URLs.
func (c orchestratorConfig) checkURLs() error {
	if err := checkNATSURLs(c.NATS.URLs); err != nil {
		return err
	}
	if redact.HasUserinfo(c.Buildkite.APIURL) {
		return fmt.Errorf("%w: buildkite.api_url: %s carries credentials: the API token goes in buildkite.token_file or BUILDKITE_API_TOKEN", cliconfig.ErrConfig, redact.URL(c.Buildkite.APIURL))
	}
	return nil
}

// values are the secrets read, for the logger to mask.
func (s orchSecrets) values() []string {
	return []string{s.api, s.read, s.buildkite, s.whSecret, s.whToken, s.natsPassword}
}

// agentsInterval maps the command's "0: never" onto the package's negative.
func agentsInterval(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
