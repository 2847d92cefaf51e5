package natsauth_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/vmfleet/vmfleet/internal/natsauth"
)

func generate(t *testing.T, dir string, hosts []string, opts ...natsauth.Option) natsauth.Result {
	t.Helper()
	g, err := natsauth.New(hosts, append([]natsauth.Option{natsauth.WithLogger(testLogger(t))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	res, err := g.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func states(res natsauth.Result) map[string]natsauth.SeedState {
	m := map[string]natsauth.SeedState{}
	for _, s := range res.Seeds {
		m[s.Name] = s.State
	}
	return m
}

func keys(res natsauth.Result) map[string]string {
	m := map[string]string{}
	for _, s := range res.Seeds {
		m[s.Name] = s.PublicKey
	}
	return m
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

// TestWriteKeepsAndRotatesSeeds: seeds are created once, kept on re-runs,
// and replaced only for the identity rotated.
func TestWriteKeepsAndRotatesSeeds(t *testing.T) {
	dir := t.TempDir()
	hosts := []string{hostA, hostB}
	b := token(t, hostB)
	first := generate(t, dir, hosts, natsauth.WithConsumers("dashboard"))
	want := map[string]natsauth.SeedState{"orchestrator": natsauth.SeedCreated, "dashboard": natsauth.SeedCreated, hostA: natsauth.SeedCreated, b: natsauth.SeedCreated}
	if diff := cmp.Diff(want, states(first)); diff != "" {
		t.Errorf("first run states (-want +got):\n%s", diff)
	}
	second := generate(t, dir, hosts, natsauth.WithConsumers("dashboard"))
	for k := range want {
		want[k] = natsauth.SeedKept
	}
	if diff := cmp.Diff(want, states(second)); diff != "" {
		t.Errorf("re-run states (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(keys(first), keys(second)); diff != "" {
		t.Errorf("re-run changed keys (-first +second):\n%s", diff)
	}
	// Rotate by host name (not token): only that key changes.
	third := generate(t, dir, hosts, natsauth.WithConsumers("dashboard"), natsauth.WithRotate(hostB))
	want[b] = natsauth.SeedRotated
	if diff := cmp.Diff(want, states(third)); diff != "" {
		t.Errorf("rotate states (-want +got):\n%s", diff)
	}
	for name, k := range keys(third) {
		if changed := k != keys(second)[name]; changed != (name == b) {
			t.Errorf("Got(key of %s changed) = %v, want %v", name, changed, name == b)
		}
	}
	// The configuration follows the rotation: the old key is gone.
	conf, err := os.ReadFile(third.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(conf), keys(second)[b]) || !strings.Contains(string(conf), keys(third)[b]) {
		t.Errorf("configuration does not carry %s's rotated key", b)
	}
	// Modes: secrets 0600 in a 0700 directory; the configuration is public.
	for _, s := range third.Seeds {
		if m := mode(t, s.File); m != 0o600 {
			t.Errorf("Got(mode of %s) = %v, want 0600", s.File, m)
		}
	}
	if m := mode(t, filepath.Join(dir, natsauth.CredsDir)); m != 0o700 {
		t.Errorf("Got(mode of creds dir) = %v, want 0700", m)
	}
	if m := mode(t, third.ConfigFile); m != 0o644 {
		t.Errorf("Got(mode of config) = %v, want 0644", m)
	}
	// A host that left the list: its seed is reported, not deleted.
	fourth := generate(t, dir, []string{hostA}, natsauth.WithConsumers("dashboard"))
	if diff := cmp.Diff([]string{filepath.Join(dir, natsauth.CredsDir, b+natsauth.SeedExt)}, fourth.Unused); diff != "" {
		t.Errorf("unused seeds (-want +got):\n%s", diff)
	}
}

// TestConfigHoldsNoSecret: the server configuration has public keys only,
// and each seed file's public key is the one configured.
func TestConfigHoldsNoSecret(t *testing.T) {
	dir := t.TempDir()
	res := generate(t, dir, []string{hostA, hostB})
	conf, err := os.ReadFile(res.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Seeds {
		seed, err := os.ReadFile(s.File)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(seed), "\n") {
			if strings.HasPrefix(line, "SU") && strings.Contains(string(conf), line) {
				t.Errorf("configuration holds the seed of %s", s.Name)
			}
		}
		pub, err := natsauth.PublicKey(s.File)
		if err != nil || pub != s.PublicKey {
			t.Errorf("Got(PublicKey(%s)) = %s, %v, want %s", s.File, pub, err, s.PublicKey)
		}
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name  string
		hosts []string
		opts  []natsauth.Option
		want  error
	}{
		{name: "no hosts", want: natsauth.ErrNoHosts},
		{name: "two names, one token", hosts: []string{"Mac-01", "mac-01"}, want: natsauth.ErrDuplicateIdentity},
		{name: "host named like the orchestrator", hosts: []string{"orchestrator"}, want: natsauth.ErrDuplicateIdentity},
		{name: "host named like a consumer", hosts: []string{"dash"}, opts: []natsauth.Option{natsauth.WithConsumers("dash")}, want: natsauth.ErrDuplicateIdentity},
		{name: "rotate a stranger", hosts: []string{hostA}, opts: []natsauth.Option{natsauth.WithRotate("mac-99")}, want: natsauth.ErrUnknownIdentity},
		{name: "bad prefix", hosts: []string{hostA}, opts: []natsauth.Option{natsauth.WithPrefix("a.>")}, want: natsauth.ErrInvalidOption},
		{name: "bad consumer name", hosts: []string{hostA}, opts: []natsauth.Option{natsauth.WithConsumers("a.b")}, want: natsauth.ErrInvalidOption},
		{name: "cluster without server name", hosts: []string{hostA}, opts: []natsauth.Option{natsauth.WithCluster(natsauth.Cluster{Name: "c", Routes: []string{"nats-route://n1:6222"}})}, want: natsauth.ErrInvalidOption},
		{name: "route with credentials", hosts: []string{hostA}, opts: []natsauth.Option{natsauth.WithServerName("n1"), natsauth.WithCluster(natsauth.Cluster{Name: "c", Routes: []string{"nats-route://u:p@n1:6222"}})}, want: natsauth.ErrInvalidOption},
		{name: "route not a route", hosts: []string{hostA}, opts: []natsauth.Option{natsauth.WithServerName("n1"), natsauth.WithCluster(natsauth.Cluster{Name: "c", Routes: []string{"nats://n1:4222"}})}, want: natsauth.ErrInvalidOption},
		{name: "tls verify without CA", hosts: []string{hostA}, opts: []natsauth.Option{natsauth.WithTLS(natsauth.TLS{CertFile: "c", KeyFile: "k", Verify: true})}, want: natsauth.ErrInvalidOption},
		{name: "bad listen", hosts: []string{hostA}, opts: []natsauth.Option{natsauth.WithListen("4222")}, want: natsauth.ErrInvalidOption},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := natsauth.New(tt.hosts, tt.opts...)
			if !errors.Is(err, tt.want) {
				t.Errorf("Got(New) = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestBadSeedFileIsNotReplaced(t *testing.T) {
	dir := t.TempDir()
	creds := filepath.Join(dir, natsauth.CredsDir)
	if err := os.MkdirAll(creds, 0o700); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(creds, hostA+natsauth.SeedExt)
	if err := os.WriteFile(bad, []byte("not a seed\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	g, err := natsauth.New([]string{hostA})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Write(dir); !errors.Is(err, natsauth.ErrBadSeed) {
		t.Fatalf("Got(Write with a bad seed) = %v, want ErrBadSeed", err)
	}
	if data, _ := os.ReadFile(bad); string(data) != "not a seed\n" {
		t.Errorf("Got(bad seed file after Write) = %q, want it untouched", data)
	}
	if _, err := os.Stat(filepath.Join(dir, natsauth.DefaultConfigName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Got(config after a failed Write) = %v, want none written", err)
	}
}

// TestClusterConfig: a cluster node's configuration parses, its routes carry
// the generated credentials from the 0600 include file, and the main file
// holds no password.
func TestClusterConfig(t *testing.T) {
	dir := t.TempDir()
	routes := []string{"nats-route://127.0.0.1:6222", "nats-route://127.0.0.1:6223", "nats-route://127.0.0.1:6224"}
	res := generate(t, dir, []string{hostA}, natsauth.WithServerName("n2"), natsauth.WithConfigName("n2.conf"),
		natsauth.WithListen("127.0.0.1:4223"), natsauth.WithJetStreamDir("/var/lib/vmfleet/nats n2"),
		natsauth.WithCluster(natsauth.Cluster{Name: "vmfleet", Listen: "127.0.0.1:6223", Routes: routes}))
	opts, err := server.ProcessConfigFile(res.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	if opts.ServerName != "n2" || opts.Cluster.Name != "vmfleet" || opts.Cluster.Port != 6223 || opts.Port != 4223 || opts.StoreDir != "/var/lib/vmfleet/nats n2" {
		t.Errorf("Got(parsed) = server %q cluster %q:%d port %d store %q, want n2 vmfleet:6223 4223 and the store dir",
			opts.ServerName, opts.Cluster.Name, opts.Cluster.Port, opts.Port, opts.StoreDir)
	}
	if got := opts.JetStreamLimits.DefaultMaxConsumers; got != -1 {
		t.Errorf("Got(jetstream default_max_consumers) = %d, want -1 (one spec-watch consumer per host)", got)
	}
	if opts.Cluster.Username != natsauth.RouteUser || len(opts.Cluster.Password) < 40 {
		t.Errorf("Got(route auth) = %q/%d chars, want %s and a long password", opts.Cluster.Username, len(opts.Cluster.Password), natsauth.RouteUser)
	}
	if len(opts.Routes) != 3 {
		t.Fatalf("Got(routes) = %d, want 3", len(opts.Routes))
	}
	for _, r := range opts.Routes {
		if pw, _ := r.User.Password(); r.User.Username() != natsauth.RouteUser || pw != opts.Cluster.Password {
			t.Errorf("Got(route %s credentials) = wrong, want the route user and password", r.Host)
		}
	}
	conf, _ := os.ReadFile(res.ConfigFile)
	if strings.Contains(string(conf), opts.Cluster.Password) {
		t.Error("main configuration holds the route password")
	}
	if m := mode(t, res.RoutesFile); m != 0o600 {
		t.Errorf("Got(mode of %s) = %v, want 0600", res.RoutesFile, m)
	}
	// Re-running keeps the password; rotating it changes it.
	again := generate(t, dir, []string{hostA}, natsauth.WithServerName("n2"), natsauth.WithConfigName("n2.conf"),
		natsauth.WithCluster(natsauth.Cluster{Name: "vmfleet", Routes: routes}), natsauth.WithRotateRoutePassword())
	o2, err := server.ProcessConfigFile(again.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	if o2.Cluster.Password == opts.Cluster.Password {
		t.Error("Got(route password after rotation) = unchanged, want a new one")
	}
}
