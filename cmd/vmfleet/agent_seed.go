package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
	"github.com/vmfleet/vmfleet/internal/natsauth"
)

// seedOwnerErr says when nats.nkey_seed_file is a seed 'vmfleet nats-config'
// wrote for another identity than this host: the server would refuse every
// publish and subscription of the host's subjects, and the error should name
// the seed's owner, not only the refused subject. A seed without the
// generator's comment, or one that cannot be read (the connection reports
// that), passes.
func (c agentConfig) seedOwnerErr() error {
	file := c.NATS.NKeySeedFile
	if file == "" {
		return nil
	}
	acfg, err := c.agentdConfig().WithDefaults()
	if err != nil {
		return nil // the agent itself reports a bad host name
	}
	host, err := events.HostToken(acfg.Hostname)
	if err != nil {
		return nil
	}
	id, ok, err := natsauth.SeedOwner(file)
	if err != nil || !ok || (id.Role == natsauth.RoleHost && id.Name == host) {
		return nil
	}
	owner := string(id.Role) + " " + id.Name
	switch id.Role {
	case natsauth.RoleHost:
		owner = "host " + id.Host
	case natsauth.RoleOrchestrator:
		owner = "the orchestrator"
	}
	own := filepath.Join(filepath.Dir(file), host+natsauth.SeedExt)
	if _, err := os.Stat(own); err != nil {
		own = filepath.Join(natsauth.CredsDir, host+natsauth.SeedExt)
	}
	hint := fmt.Sprintf("use the seed 'vmfleet nats-config' wrote for host %s (%s)", acfg.Hostname, own)
	if id.Role == natsauth.RoleHost {
		hint += fmt.Sprintf(", or --host %s if this machine is %s", id.Host, id.Host)
	}
	return fmt.Errorf("%w: nats.nkey_seed_file %s is the seed of %s, not of this host %s: %s",
		cliconfig.ErrConfig, file, owner, acfg.Hostname, hint)
}
