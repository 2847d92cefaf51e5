package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/internal/natsauth"
	"github.com/vmfleet/vmfleet/internal/testlog"
)

// TestNATSConfigAccountLimits: the configuration `vmfleet nats-config`
// writes gives account VMFLEET JetStream limits sized from the stream's
// (--stream-max-bytes) or set by flag, and a real nats-server running it
// reports and enforces them: the stream fits, a larger one is refused.
func TestNATSConfigAccountLimits(t *testing.T) {
	dir := t.TempDir()
	code, stdout, _ := runVMFleet(t, "nats-config", "--hosts", "mac-01,mac-02", "--out", dir, "--listen", "127.0.0.1:-1",
		"--jetstream-dir", filepath.Join(dir, "js"), "--stream-max-bytes", "67108864", "--js-max-consumers", "5")
	if code != 0 {
		t.Fatalf("Got(exit) = %d, want 0", code)
	}
	if want := "account VMFLEET JetStream limits: store 320 MiB (1 replica(s) of stream VMFLEET at 64 MiB + the KV buckets), memory 64 MiB, 8 streams, 5 consumers per stream"; !strings.Contains(stdout, want) {
		t.Errorf("Got(stdout) lacks %q", want)
	}
	srv, err := bus.StartServer(bus.ServerConfig{ConfigFile: filepath.Join(dir, natsauth.DefaultConfigName)}, testlog.New(t, slog.LevelDebug))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	nc, err := bus.Connect(bus.ConnConfig{URLs: []string{srv.ClientURL()}, NKeySeedFile: filepath.Join(dir, natsauth.CredsDir, "orchestrator"+natsauth.SeedExt)}, testlog.New(t, slog.LevelDebug))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if err := nc.FlushTimeout(5 * time.Second); err != nil {
		t.Fatalf("orchestrator not connected: %v (%v)", err, nc.LastError())
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := js.AccountInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if l := info.Limits; l.MaxStore != (64+256)<<20 || l.MaxMemory != 64<<20 || l.MaxStreams != 8 || l.MaxConsumers != 5 {
		t.Errorf("Got(account limits) = %+v, want store 320 MiB, memory 64 MiB, 8 streams, 5 consumers", l)
	}
	subj, _ := events.NewSubjects("")
	limits := bus.DefaultStreamLimits()
	limits.MaxBytes = 64 << 20
	if _, err := bus.EnsureStreamLimits(ctx, js, subj, 1, limits); err != nil {
		t.Fatalf("Got(stream of 64 MiB) = %v, want made", err)
	}
	limits.MaxBytes = 1 << 30
	if _, err := bus.EnsureStreamLimits(ctx, js, subj, 1, limits); err == nil || !strings.Contains(err.Error(), "insufficient storage resources") {
		t.Errorf("Got(stream of 1 GiB) = %v, want insufficient storage resources", err)
	}
}
