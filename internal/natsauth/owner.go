package natsauth

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
)

// seedComment starts the comment Write puts above every seed it makes.
const seedComment = "# vmfleet NATS identity: "

// SeedOwner reads whom a seed file was written for: the comment Write puts
// above each seed ("# vmfleet NATS identity: host mac-02"). The Identity
// has Name, Host (hosts only) and Role set; ok is false for a seed without
// that comment (made by other tools or by hand). A client checks it before
// connecting, so that a host given another host's seed says so at once
// rather than having every publish refused.
func SeedOwner(path string) (id Identity, ok bool, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Identity{}, false, fmt.Errorf("read seed file: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "#") {
			break // comments sit above the seed
		}
		rest, found := strings.CutPrefix(line, seedComment)
		if !found {
			continue
		}
		return parseOwner(strings.TrimSpace(rest))
	}
	return Identity{}, false, nil
}

// parseOwner reads comment's wording of an identity back.
func parseOwner(s string) (Identity, bool, error) {
	role, rest, _ := strings.Cut(s, " ")
	switch Role(role) {
	case RoleHost:
		name, host, _ := strings.Cut(rest, " ")
		if name == "" {
			break
		}
		host = strings.TrimSuffix(strings.TrimPrefix(host, "("), ")")
		if host == "" {
			host = name
		}
		return Identity{Name: name, Host: host, Role: RoleHost}, true, nil
	case RoleConsumer:
		name, _, _ := strings.Cut(rest, " ")
		if name == "" {
			break
		}
		return Identity{Name: name, Role: RoleConsumer}, true, nil
	case RoleOrchestrator:
		name := rest
		if name == "" {
			name = DefaultOrchestrator
		}
		return Identity{Name: name, Role: RoleOrchestrator}, true, nil
	}
	return Identity{}, false, nil
}
