package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
	"github.com/vmfleet/vmfleet/internal/natsauth"
)

// seedIdentity is whom nats.nkey_seed_file was written for, when 'vmfleet
// nats-config' wrote it (ok false otherwise, or without a seed file).
func (c eventsConfig) seedIdentity() (natsauth.Identity, bool) {
	if c.NATS.NKeySeedFile == "" {
		return natsauth.Identity{}, false
	}
	id, ok, err := natsauth.SeedOwner(c.NATS.NKeySeedFile)
	if err != nil || !ok {
		return natsauth.Identity{}, false // unreadable: the connection says so
	}
	return id, true
}

// seedReaderErr says when nats.nkey_seed_file is a seed 'vmfleet
// nats-config' wrote for an identity that may not read what was asked: a
// host's (it reads only its own commands and the spec), or the
// orchestrator's for subjects beyond the events it follows (a live tail of
// every subject takes in the hosts' commands). The server would refuse the
// subscription; the error names the seed's owner and the identity meant
// for reading, a consumer. A seed without the generator's comment passes.
func (c eventsConfig) seedReaderErr(subjects []string) error {
	id, ok := c.seedIdentity()
	if !ok || id.Role == natsauth.RoleConsumer {
		return nil
	}
	subj, err := events.NewSubjects(c.NATS.SubjectPrefix)
	if err != nil {
		return nil // c.subjects reports it
	}
	var perms natsauth.Permissions
	owner := ""
	switch id.Role {
	case natsauth.RoleHost:
		perms, owner = natsauth.HostPermissions(subj, id.Name), "host "+id.Host+", an agent's identity,"
	case natsauth.RoleOrchestrator:
		perms, owner = natsauth.OrchestratorPermissions(subj, ""), "the orchestrator"
	default:
		return nil
	}
	var denied []string
	if c.Since > 0 && id.Role == natsauth.RoleHost {
		denied = append(denied, "stream "+events.StreamName+" (--since)")
	}
	if c.Since == 0 || id.Role == natsauth.RoleHost {
		for _, s := range subjects {
			if !slices.ContainsFunc(perms.Subscribe, func(p string) bool { return subjectCovers(p, s) }) {
				denied = append(denied, s)
			}
		}
	}
	if len(denied) == 0 {
		return nil
	}
	hint := fmt.Sprintf("use a read-only consumer's seed ('vmfleet nats-config --consumer NAME' writes %s)",
		filepath.Join(natsauth.CredsDir, "NAME"+natsauth.SeedExt))
	if own := consumerSeeds(filepath.Dir(c.NATS.NKeySeedFile)); len(own) > 0 {
		hint = fmt.Sprintf("use a read-only consumer's seed, such as %s", strings.Join(own, " or "))
	}
	if id.Role == natsauth.RoleOrchestrator {
		var follows []string
		for _, p := range perms.Subscribe {
			if strings.HasPrefix(p, subj.Prefix+".") {
				follows = append(follows, strings.TrimPrefix(p, subj.Prefix+"."))
			}
		}
		hint += fmt.Sprintf(", or --subject within what it follows (%s), or --since", strings.Join(follows, ", "))
	}
	return fmt.Errorf("%w: nats.nkey_seed_file %s is the seed of %s which may not read %s: %s",
		cliconfig.ErrConfig, c.NATS.NKeySeedFile, owner, strings.Join(denied, ", "), hint)
}

// consumerSeeds are the seed files of consumer identities in dir, if any.
func consumerSeeds(dir string) []string {
	files, err := filepath.Glob(filepath.Join(dir, "*"+natsauth.SeedExt))
	if err != nil {
		return nil
	}
	var out []string
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || !st.Mode().IsRegular() {
			continue
		}
		if id, ok, err := natsauth.SeedOwner(f); err == nil && ok && id.Role == natsauth.RoleConsumer {
			out = append(out, f)
		}
	}
	return out
}

// subjectCovers reports whether NATS subject pattern p matches every
// subject s matches (s may hold wildcards itself).
func subjectCovers(p, s string) bool {
	pt, st := strings.Split(p, "."), strings.Split(s, ".")
	for i, tok := range pt {
		switch {
		case tok == ">":
			return i < len(st)
		case i >= len(st):
			return false
		case tok == "*":
			if st[i] == ">" {
				return false
			}
		case tok != st[i]:
			return false
		}
	}
	return len(pt) == len(st)
}
