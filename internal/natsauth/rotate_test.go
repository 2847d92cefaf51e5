package natsauth_test

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/vmfleet/vmfleet/internal/natsauth"
)

// TestRotationTakesEffectOnReload follows docs/security.md: rotate a host's
// seed, reload the server; the old key's connection is cut and refused, the
// new seed connects, and other hosts stay connected.
func TestRotationTakesEffectOnReload(t *testing.T) {
	dir := t.TempDir()
	jsDir := filepath.Join(dir, "js")
	out := filepath.Join(dir, "out")
	opts := []natsauth.Option{natsauth.WithListen("127.0.0.1:-1"), natsauth.WithJetStreamDir(jsDir)}
	res := generate(t, out, []string{hostA, hostB}, opts...)
	f := serve(t, res, jsDir)
	a, b := token(t, hostA), token(t, hostB)

	// The old seed, kept aside as a stolen copy would be.
	old := f.connect(t, a)
	stolen := filepath.Join(dir, "stolen.nk")
	copyFile(t, f.seeds[a].File, stolen)
	other := f.connect(t, b)
	cut := make(chan error, 1)
	old.nc.SetDisconnectErrHandler(func(_ *nats.Conn, err error) {
		select {
		case cut <- err:
		default:
		}
	})

	rotated := generate(t, out, []string{hostA, hostB}, append(opts, natsauth.WithRotate(hostA))...)
	if states(rotated)[a] != natsauth.SeedRotated {
		t.Fatalf("Got(state of %s) = %s, want rotated", a, states(rotated)[a])
	}
	reload(t, f.srv, rotated.ConfigFile)

	// The server cuts the old key's connection, and refuses it after.
	select {
	case err := <-cut:
		t.Logf("old key's connection cut: %v", err)
	case <-time.After(waitFor):
		t.Fatal("Got(old key's connection after reload) = open, want it cut")
	}
	old.nc.Close()
	if nc, err := nats.Connect(f.srv.ClientURL(), mustNkey(t, stolen)); err == nil {
		nc.Close()
		t.Fatal("Got(connect with the old seed) = nil, want an authorization error")
	}
	f.seeds[a] = rotated.Seeds[indexOf(rotated, a)]
	fresh := f.connect(t, a)
	fresh.clean(t)
	other.clean(t)
}

func reload(t *testing.T, s *server.Server, conf string) {
	t.Helper()
	o, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	// What bus.StartServer set over the file at start; a reload may not change it.
	addr := s.Addr().(*net.TCPAddr)
	o.Host, o.Port, o.ServerName, o.JetStream, o.NoSigs = addr.IP.String(), addr.Port, s.Name(), true, true
	if err := s.ReloadOptions(o); err != nil {
		t.Fatalf("Got(reload) = %v, want nil", err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustNkey(t *testing.T, seedFile string) nats.Option {
	t.Helper()
	o, err := nats.NkeyOptionFromSeed(seedFile)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func indexOf(res natsauth.Result, name string) int {
	for i, s := range res.Seeds {
		if s.Name == name {
			return i
		}
	}
	return -1
}
