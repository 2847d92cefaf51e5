// Package bustest starts a real in-process nats-server with JetStream for tests.
package bustest

import (
	"log/slog"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/vmfleet/vmfleet/internal/bus"
)

// Server starts an embedded nats-server with JetStream on a free loopback port,
// storing under a temp dir, and stops it when the test ends. Pass dir to reuse a
// store across restarts ("" for a fresh one).
func Server(t testing.TB, dir string) *server.Server {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	s, err := bus.StartServer(bus.ServerConfig{Listen: "127.0.0.1:-1", DataDir: dir}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("start nats-server: %v", err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// Restart starts a server again on the same port and store after s was shut down.
func Restart(t testing.TB, s *server.Server, dir string) *server.Server {
	t.Helper()
	addr := s.Addr().String()
	s.Shutdown()
	s.WaitForShutdown()
	ns, err := bus.StartServer(bus.ServerConfig{Listen: addr, DataDir: dir}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("restart nats-server on %s: %v", addr, err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns
}

// Conn connects a client to s, closed when the test ends.
func Conn(t testing.TB, s *server.Server) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatalf("connect to %s: %v", s.ClientURL(), err)
	}
	t.Cleanup(nc.Close)
	return nc
}
