package main

import (
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
)

// NATSConn is the NATS connection section (key nats) of every command that
// connects: the agent, events and the orchestrator embed it with
// yaml:",inline" beside their own keys, so one set of keys, flags and env
// names connects them all. Each command words the help of nats.urls and
// nats.nkey_seed_file itself (cliconfig.Helper).
type NATSConn struct {
	URLs          []string `yaml:"urls" flag:"nats-url" env:"VMFLEET_NATS_URL" help:"NATS server URLs (repeat or comma separated)"`
	CredsFile     string   `yaml:"creds_file" flag:"nats-creds" env:"VMFLEET_NATS_CREDS" help:"NATS user credentials (JWT) file, as nsc writes them (the seeds of 'vmfleet nats-config' go in nkey_seed_file)"`
	NKeySeedFile  string   `yaml:"nkey_seed_file" flag:"nats-nkey-seed" env:"VMFLEET_NATS_NKEY_SEED" help:"file holding the NKey seed"`
	User          string   `yaml:"user" flag:"nats-user" env:"VMFLEET_NATS_USER" help:"NATS user name"`
	Password      secret   `yaml:"-" flag:"-" env:"VMFLEET_NATS_PASSWORD" help:"NATS password (env only; or password_file)"`
	PasswordFile  string   `yaml:"password_file" flag:"nats-password-file" env:"VMFLEET_NATS_PASSWORD_FILE" help:"file holding the NATS password"`
	CAFile        string   `yaml:"ca_file" flag:"nats-ca" env:"VMFLEET_NATS_CA" help:"CA certificate file for NATS TLS"`
	CertFile      string   `yaml:"cert_file" flag:"nats-cert" env:"VMFLEET_NATS_CERT" help:"client certificate file for NATS TLS"`
	KeyFile       string   `yaml:"key_file" flag:"nats-key" env:"VMFLEET_NATS_KEY" help:"client key file for NATS TLS"`
	SubjectPrefix string   `yaml:"subject_prefix" flag:"subject-prefix" env:"VMFLEET_SUBJECT_PREFIX" help:"NATS subject prefix"`
}

// defaultNATSConn is the section's defaults: no URL, the default prefix.
func defaultNATSConn() NATSConn { return NATSConn{SubjectPrefix: events.DefaultPrefix} }

// password is the NATS password: password_file's trimmed content when set,
// else the env value.
func (n NATSConn) password() (string, error) {
	return readSecret("nats.password_file", n.PasswordFile, n.Password)
}

// connConfig is how a command named name dials urls (the section's own,
// or the embedded server's) with the password already read.
func (n NATSConn) connConfig(name string, urls []string, password, inbox string) bus.ConnConfig {
	return bus.ConnConfig{
		URLs: urls, Name: name,
		CredsFile: n.CredsFile, NKeySeedFile: n.NKeySeedFile, User: n.User, Password: password,
		CAFile: n.CAFile, CertFile: n.CertFile, KeyFile: n.KeyFile, InboxPrefix: inbox,
	}
}
