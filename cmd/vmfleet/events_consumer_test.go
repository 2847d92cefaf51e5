package main

import (
	"context"
	"fmt"
	"log/slog"
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
	"github.com/vmfleet/vmfleet/internal/testlog"
)

// generatedServer runs a real nats-server on the configuration `vmfleet
// nats-config` writes for hosts and consumers, with the stream made by the
// orchestrator's identity. It returns the server URL and the output dir.
func generatedServer(t *testing.T, extra ...string) (url, dir string) {
	t.Helper()
	s, dir := generatedNATSServer(t, extra...)
	return s.ClientURL(), dir
}

// generatedNATSServer is generatedServer returning the server itself.
func generatedNATSServer(t *testing.T, extra ...string) (*server.Server, string) {
	t.Helper()
	base := t.TempDir()
	var dir string
	dir, jsDir := filepath.Join(base, "nats"), filepath.Join(base, "js")
	args := append([]string{"nats-config", "--hosts", "mac-01", "--consumer", "ops", "--out", dir,
		"--listen", "127.0.0.1:-1", "--jetstream-dir", jsDir}, extra...)
	if code, _, _ := runVMFleet(t, args...); code != 0 {
		t.Fatalf("Got(nats-config exit) = %d, want 0", code)
	}
	log := testlog.New(t, slog.LevelDebug)
	s, err := bus.StartServer(bus.ServerConfig{ConfigFile: filepath.Join(dir, natsauth.DefaultConfigName), DataDir: jsDir}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	orch := identityConn(t, s.ClientURL(), dir, natsauth.DefaultOrchestrator, "")
	js, err := jetstream.New(orch)
	if err != nil {
		t.Fatal(err)
	}
	subj, _ := events.NewSubjects("")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := bus.EnsureStream(ctx, js, subj, 1); err != nil {
		t.Fatalf("orchestrator: EnsureStream: %v", err)
	}
	return s, dir
}

// identityConn connects as a generated identity, connected when it returns.
func identityConn(t *testing.T, url, dir, name, inbox string) *nats.Conn {
	t.Helper()
	nc, err := bus.Connect(bus.ConnConfig{URLs: []string{url}, Name: name, InboxPrefix: inbox,
		NKeySeedFile: filepath.Join(dir, natsauth.CredsDir, name+natsauth.SeedExt), ReconnectWait: 50 * time.Millisecond},
		testlog.New(t, slog.LevelDebug))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	deadline := time.Now().Add(10 * time.Second)
	for nc.FlushTimeout(100*time.Millisecond) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not connected: %v", name, nc.LastError())
		}
	}
	return nc
}

// tail runs `vmfleet events args...` until its output holds every want in
// order, calling publish between looks, and returns its output.
func tail(t *testing.T, args []string, want []string, publish func()) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, errw := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- execute(ctx, append(append([]string{"events"}, args...), "--log-format", "json"), out, errw)
	}()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(out.String(), want[len(want)-1]) {
		select {
		case code := <-done:
			t.Fatalf("Got(events exit) = %d before the events came; output:\n%s\nstderr:\n%s", code, out.String(), errw.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out; output:\n%s\nstderr:\n%s", out.String(), errw.String())
		}
		publish()
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("Got(exit) = %d, want 0 on interrupt; stderr:\n%s", code, errw.String())
	}
	got, last := out.String(), -1
	for _, w := range want {
		i := strings.Index(got, w)
		if i <= last {
			t.Fatalf("Got(output) lacks %q after the previous line; output:\n%s", w, got)
		}
		last = i
	}
	if strings.Contains(errw.String(), "Permissions Violation") {
		t.Errorf("Got(stderr) holds a permissions violation:\n%s", errw.String())
	}
	return got
}

// TestEventsAsConsumerIdentity runs `vmfleet events` with the read-only
// identity `nats-config --consumer ops` generates, against a real server
// loaded with the generated configuration: replay and live tail both work.
func TestEventsAsConsumerIdentity(t *testing.T) {
	url, dir := generatedServer(t)
	host := identityConn(t, url, dir, "mac-01", natsauth.InboxPrefix("mac-01"))
	hjs, err := jetstream.New(host)
	if err != nil {
		t.Fatal(err)
	}
	subj, _ := events.NewSubjects("")
	seq := uint64(0)
	publish := func() {
		seq++
		data := encodeEvent(t, events.TypeHostHealth, "mac-01", events.HostHealth{Host: "mac-01", BootID: "b", Seq: seq, CheckedAt: evAt})
		if _, err := hjs.Publish(t.Context(), subj.Health("mac-01"), data); err != nil {
			t.Fatalf("host: publish health: %v", err)
		}
	}
	publish() // the past the replay must show
	seed := filepath.Join(dir, natsauth.CredsDir, "ops"+natsauth.SeedExt)
	conn := []string{"--nats-url", url, "--nats-nkey-seed", seed}
	// Each tail must show the first event (replays) and one published after it started.
	first, next := "· seq 1 ·", func() string { return fmt.Sprintf("· seq %d ·", seq+1) }
	for _, tt := range []struct {
		name string
		args []string
	}{
		{name: "replay", args: []string{"--since", "1h"}},
		{name: "replay one subject", args: []string{"--since", "1h", "--subject", "host.*.health"}},
		{name: "replay two subjects", args: []string{"--since", "1h", "--subject", "host.>", "--subject", "prune.>"}},
		{name: "live", args: nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want := []string{first, next()}
			if tt.args == nil { // starts at an unknown moment: any new event
				want = []string{"health    mac-01"}
			}
			got := tail(t, append(append([]string(nil), conn...), tt.args...), want, publish)
			if tt.args == nil && strings.Contains(got, first) {
				t.Errorf("Got(live output) replays the past, want from now only")
			}
		})
	}
}

// TestEventsRefusedStops: an identity that may not read the stream or
// follow every subject gets an error naming the refused subject at once,
// not a tail that waits for good. The seed is a host's without the
// generator's comment (made by hand), so the server is what refuses it
// (TestEventsSeedChecked has the generated seed refused before that).
func TestEventsRefusedStops(t *testing.T) {
	url, dir := generatedServer(t)
	seed := handMadeSeed(t, filepath.Join(dir, natsauth.CredsDir, "mac-01"+natsauth.SeedExt))
	for _, args := range [][]string{{"--since", "1h"}, nil} {
		t.Run(strings.Join(append([]string{"events"}, args...), " "), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			var out, errw syncBuffer
			code := execute(ctx, append([]string{"events", "--nats-url", url, "--nats-nkey-seed", seed, "--log-format", "json"}, args...), &out, &errw)
			if ctx.Err() != nil {
				t.Fatalf("Got(events) still running after 30s, want it to stop; stderr:\n%s", errw.String())
			}
			if code == 0 || !strings.Contains(errw.String(), "Permissions Violation") {
				t.Errorf("Got(exit, stderr) = %d, %q; want non-zero and the violation", code, errw.String())
			}
		})
	}
}
