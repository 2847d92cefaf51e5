package natsauth_test

import (
	"bytes"
	"context"
	"errors"
	"github.com/vmfleet/vmfleet/internal/testlog"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/internal/natsauth"
)

func testLogger(t testing.TB) *slog.Logger { return testlog.New(t, slog.LevelDebug) }

// waitFor is how long a test waits for a condition.
const waitFor = 5 * time.Second

// Host names of the test fleet: one already a token, one that is not.
const (
	hostA = "mac-01"
	hostB = "Mac.02.local"
)

func token(t testing.TB, host string) string {
	t.Helper()
	tok, err := events.HostToken(host)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// fleet is a real nats-server running a generated configuration, with the
// orchestrator connected and the stream and buckets created by it.
type fleet struct {
	srv   *server.Server
	res   natsauth.Result
	subj  events.Subjects
	orch  *client
	js    jetstream.JetStream
	bkts  bus.Buckets
	seeds map[string]natsauth.Seed
}

func startFleet(t *testing.T, opts ...natsauth.Option) *fleet {
	t.Helper()
	dir := t.TempDir()
	jsDir := filepath.Join(dir, "js")
	opts = append([]natsauth.Option{natsauth.WithListen("127.0.0.1:-1"), natsauth.WithJetStreamDir(jsDir),
		natsauth.WithConsumers("dashboard"), natsauth.WithLogger(testLogger(t))}, opts...)
	g, err := natsauth.New([]string{hostA, hostB}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	res, err := g.Write(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, res, jsDir)
}

// startWithHostPermissions serves the orchestrator and one host (hostA)
// whose permissions are perms instead of the generated ones.
func startWithHostPermissions(t *testing.T, perms natsauth.Permissions) *fleet {
	t.Helper()
	dir := t.TempDir()
	subj, _ := events.NewSubjects("")
	res := natsauth.Result{ConfigFile: filepath.Join(dir, "nats.conf")}
	srv := natsauth.Server{Listen: "127.0.0.1:-1", JetStreamDir: filepath.Join(dir, "js"), ResponseTTL: time.Minute}
	for _, id := range []natsauth.Identity{
		{Name: natsauth.DefaultOrchestrator, Role: natsauth.RoleOrchestrator, Permissions: natsauth.OrchestratorPermissions(subj, "")},
		{Name: token(t, hostA), Role: natsauth.RoleHost, InboxPrefix: natsauth.InboxPrefix(token(t, hostA)), Permissions: perms},
	} {
		file := filepath.Join(dir, id.Name+natsauth.SeedExt)
		pub, _, err := natsauth.LoadOrCreateSeed(file, id.Name, false)
		if err != nil {
			t.Fatal(err)
		}
		res.Seeds = append(res.Seeds, natsauth.Seed{Identity: id, File: file, PublicKey: pub})
		srv.Users = append(srv.Users, natsauth.User{Comment: id.Name, PublicKey: pub, Permissions: id.Permissions})
	}
	var buf bytes.Buffer
	if err := natsauth.Render(&buf, srv); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(res.ConfigFile, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return serve(t, res, srv.JetStreamDir)
}

// serve starts a real nats-server with the configuration in res, connects
// the orchestrator and lets it create the stream and buckets.
func serve(t *testing.T, res natsauth.Result, jsDir string) *fleet {
	t.Helper()
	s, err := bus.StartServer(bus.ServerConfig{ConfigFile: res.ConfigFile, DataDir: jsDir}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	f := &fleet{srv: s, res: res, seeds: map[string]natsauth.Seed{}}
	f.subj, _ = events.NewSubjects("")
	for _, sd := range res.Seeds {
		f.seeds[sd.Name] = sd
	}
	f.orch = f.connect(t, natsauth.DefaultOrchestrator)
	if f.js, err = jetstream.New(f.orch.nc); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if _, err := bus.EnsureStream(ctx, f.js, f.subj, 1); err != nil {
		t.Fatalf("orchestrator: EnsureStream: %v", err)
	}
	if f.bkts, err = bus.EnsureBuckets(ctx, f.js, 1, time.Minute); err != nil {
		t.Fatalf("orchestrator: EnsureBuckets: %v", err)
	}
	f.orch.clean(t)
	return f
}

// client is one connection with its asynchronous errors.
type client struct {
	name string
	nc   *nats.Conn
	errs chan error
}

// connect connects as identity name (a host token, the orchestrator or a
// consumer) with its seed file and inbox prefix, as vmfleet's binaries do.
func (f *fleet) connect(t *testing.T, name string) *client {
	t.Helper()
	sd, ok := f.seeds[name]
	if !ok {
		t.Fatalf("no identity %q in %v", name, f.seeds)
	}
	nc, err := bus.Connect(bus.ConnConfig{URLs: []string{f.srv.ClientURL()}, Name: name,
		NKeySeedFile: sd.File, InboxPrefix: sd.InboxPrefix, ReconnectWait: 50 * time.Millisecond}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	c := &client{name: name, nc: nc, errs: make(chan error, 256)}
	nc.SetErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		t.Logf("%s: async error: %v", name, err)
		select {
		case c.errs <- err:
		default:
		}
	})
	// bus.Connect returns before the first connect: wait for a round trip.
	deadline := time.Now().Add(waitFor)
	for nc.FlushTimeout(100*time.Millisecond) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not connected within %s: %v", name, waitFor, nc.LastError())
		}
	}
	return c
}

// violation waits for a permissions violation naming subject.
func (c *client) violation(t *testing.T, subject string) {
	t.Helper()
	timer := time.NewTimer(waitFor)
	defer timer.Stop()
	for {
		select {
		case err := <-c.errs:
			if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), `"`+subject+`"`) {
				return
			}
		case <-timer.C:
			t.Fatalf("Got(%s: permissions violation for %s) = none within %s, want one", c.name, subject, waitFor)
		}
	}
}

// clean asserts the server refused nothing of c's so far: after a round
// trip, any -ERR sent before it has been read.
func (c *client) clean(t *testing.T) {
	t.Helper()
	if err := c.nc.FlushTimeout(waitFor); err != nil {
		t.Fatalf("%s: flush: %v", c.name, err)
	}
	if err := c.nc.LastError(); err != nil {
		t.Fatalf("Got(%s: last error) = %v, want none", c.name, err)
	}
	select {
	case err := <-c.errs:
		t.Fatalf("Got(%s: async error) = %v, want none", c.name, err)
	default:
	}
}

// sub subscribes and fails the test if it cannot.
func (c *client) sub(t *testing.T, subject string) *nats.Subscription {
	t.Helper()
	s, err := c.nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Unsubscribe() })
	return s
}

// next waits for the next message on s.
func next(t *testing.T, s *nats.Subscription) *nats.Msg {
	t.Helper()
	m, err := s.NextMsg(waitFor)
	if err != nil {
		t.Fatalf("Got(next message on %s) = %v, want a message", s.Subject, err)
	}
	return m
}
