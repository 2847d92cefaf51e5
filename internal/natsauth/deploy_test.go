package natsauth_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/nats-io/nkeys"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/natsauth"
)

var update = flag.Bool("update", false, "rewrite the deploy/nats examples")

// deployDir holds the example server configurations.
const deployDir = "../../deploy/nats"

// placeholderPassword stands where `vmfleet nats-config` writes a random one.
const placeholderPassword = "REPLACE-ME-with-the-file-vmfleet-nats-config-writes"

// exampleUsers are the example's identities; keys are placeholders whose
// seeds were thrown away, so a server started from an example admits nobody.
func exampleUsers(t *testing.T, keys map[string]string) []natsauth.User {
	t.Helper()
	subj, _ := events.NewSubjects("")
	users := []natsauth.User{
		{Comment: "orchestrator", Permissions: natsauth.OrchestratorPermissions(subj, "")},
		{Comment: "consumer dashboard (read-only)", Permissions: natsauth.ConsumerPermissions(subj, "dashboard")},
	}
	for _, h := range []string{"mac-01", "mac-02", "mac-03"} {
		users = append(users, natsauth.User{Comment: "host " + h, Permissions: natsauth.HostPermissions(subj, h)})
	}
	for i := range users {
		k, ok := keys[users[i].Comment]
		if !ok {
			if !*update {
				t.Fatalf("example has no key for %q: run go test ./internal/natsauth -run TestDeployExamples -update", users[i].Comment)
			}
			kp, err := nkeys.CreateUser()
			if err != nil {
				t.Fatal(err)
			}
			k, _ = kp.PublicKey()
			kp.Wipe()
		}
		users[i].PublicKey = k
	}
	return users
}

var userKeyRE = regexp.MustCompile(`(?m)^\s*# (.+)\n\s*\{\n\s*nkey: "(U[A-Z2-7]{55})"`)

// exampleKeys reads the placeholder keys of the existing single-server example.
func exampleKeys(t *testing.T) map[string]string {
	keys := map[string]string{}
	data, err := os.ReadFile(filepath.Join(deployDir, "nats-server.conf"))
	if err != nil {
		return keys
	}
	for _, m := range userKeyRE.FindAllStringSubmatch(string(data), -1) {
		keys[m[1]] = m[2]
	}
	return keys
}

func exampleServers(users []natsauth.User) map[string]natsauth.Server {
	single := natsauth.Server{Prefix: events.DefaultPrefix, Listen: natsauth.DefaultListen,
		JetStreamDir: "/var/lib/vmfleet/nats", ResponseTTL: natsauth.DefaultResponseTTL, Users: users}
	out := map[string]natsauth.Server{"nats-server.conf": single}
	routes := []string{"nats-route://127.0.0.1:6222", "nats-route://127.0.0.1:6223", "nats-route://127.0.0.1:6224"}
	for i := 1; i <= 3; i++ {
		n := single
		n.Name = fmt.Sprintf("n%d", i)
		n.Listen = fmt.Sprintf("127.0.0.1:%d", 4221+i)
		n.JetStreamDir = "/var/lib/vmfleet/nats/" + n.Name
		n.Cluster = &natsauth.Cluster{Name: "vmfleet", Listen: fmt.Sprintf("127.0.0.1:%d", 6221+i), Routes: routes}
		n.RoutesInclude = natsauth.RoutesFile
		out[filepath.Join("cluster", n.Name+".conf")] = n
	}
	return out
}

// TestDeployExamples: the examples under deploy/nats are what Render
// produces, and nats-server's parser accepts each with the expected users.
func TestDeployExamples(t *testing.T) {
	users := exampleUsers(t, exampleKeys(t))
	servers := exampleServers(users)
	routes := filepath.Join(deployDir, "cluster", natsauth.RoutesFile)
	var rb bytes.Buffer
	if err := natsauth.RenderRoutes(&rb, *servers["cluster/n1.conf"].Cluster, natsauth.RouteUser, placeholderPassword); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{routes: rb.Bytes()}
	for name, srv := range servers {
		var b bytes.Buffer
		if err := natsauth.Render(&b, srv); err != nil {
			t.Fatal(err)
		}
		files[filepath.Join(deployDir, name)] = b.Bytes()
	}
	for path, want := range files {
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v: run go test ./internal/natsauth -run TestDeployExamples -update", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not what Render produces: run go test ./internal/natsauth -run TestDeployExamples -update", path)
		}
	}
	for name := range servers {
		t.Run(name, func(t *testing.T) {
			if err := natsauth.Validate(filepath.Join(deployDir, name), users); err != nil {
				t.Errorf("Got(Validate) = %v, want nil", err)
			}
		})
	}
}
