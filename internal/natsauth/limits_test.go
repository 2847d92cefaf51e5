package natsauth_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/internal/natsauth"
)

// TestAccountLimitsEnforced: a real nats-server running the generated
// configuration reports account VMFLEET's JetStream limits, derived from
// the stream's by default, and enforces them: a stream larger than the
// account's store is refused, and so is a consumer past the cap.
func TestAccountLimitsEnforced(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	t.Run("defaults", func(t *testing.T) {
		f := startFleet(t) // orchestrator, dashboard, two hosts
		info, err := f.js.AccountInfo(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := jetstream.AccountLimits{MaxMemory: natsauth.DefaultMaxMemory, MaxStore: bus.StreamMaxBytes + natsauth.KVStoreAllowance,
			MaxStreams: natsauth.DefaultMaxStreams, MaxConsumers: 2*4 + natsauth.ConsumerHeadroom}
		if got := info.Limits; got.MaxMemory != want.MaxMemory || got.MaxStore != want.MaxStore || got.MaxStreams != want.MaxStreams || got.MaxConsumers != want.MaxConsumers {
			t.Errorf("Got(account limits) = %+v, want %+v", got, want)
		}
		// The operator raises nats.stream.max_bytes past the account's
		// store without re-running nats-config: the server refuses.
		limits := bus.DefaultStreamLimits()
		limits.MaxBytes = 2 * bus.StreamMaxBytes
		_, err = bus.EnsureStreamLimits(ctx, f.js, f.subj, 1, limits)
		if err == nil || !strings.Contains(err.Error(), "insufficient storage resources") {
			t.Errorf("Got(stream of 2 GiB) = %v, want insufficient storage resources", err)
		}
	})
	t.Run("configured", func(t *testing.T) {
		f := startFleet(t, natsauth.WithAccountLimits(natsauth.AccountLimits{MaxConsumers: 2, MaxStreams: 4}))
		info, err := f.js.AccountInfo(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.Limits.MaxConsumers != 2 || info.Limits.MaxStreams != 4 || info.Limits.MaxStore != bus.StreamMaxBytes+natsauth.KVStoreAllowance {
			t.Errorf("Got(account limits) = %+v, want 2 consumers, 4 streams, the derived store", info.Limits)
		}
		for i := range 3 {
			_, err := f.js.CreateConsumer(ctx, events.StreamName, jetstream.ConsumerConfig{InactiveThreshold: waitFor})
			if wantErr := i == 2; (err != nil) != wantErr {
				t.Fatalf("Got(consumer %d) = %v, want refused: %v", i+1, err, wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "maximum consumers limit reached") {
				t.Errorf("Got(consumer past the cap) = %v, want maximum consumers limit reached", err)
			}
		}
	})
}

// TestAccountUpgradeKeepsStore: a server whose users were in the default
// account ($G), as older configurations had them, keeps its stream and
// spec under account VMFLEET once its store directory is moved, as
// docs/security.md says.
func TestAccountUpgradeKeepsStore(t *testing.T) {
	dir := t.TempDir()
	jsDir := filepath.Join(dir, "js")
	g, err := natsauth.New([]string{hostA}, natsauth.WithListen("127.0.0.1:-1"), natsauth.WithJetStreamDir(jsDir))
	if err != nil {
		t.Fatal(err)
	}
	res, err := g.Write(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	var orch natsauth.Seed
	for _, s := range res.Seeds {
		if s.Role == natsauth.RoleOrchestrator {
			orch = s
		}
	}
	old := filepath.Join(dir, "old.conf")
	if err := os.WriteFile(old, []byte(fmt.Sprintf("listen: \"127.0.0.1:-1\"\njetstream { store_dir: %q }\nauthorization { users: [ { nkey: %q } ] }\n",
		jsDir, orch.PublicKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	subj, _ := events.NewSubjects("")
	run := func(conf string, fn func(ctx context.Context, js jetstream.JetStream)) {
		s, err := bus.StartServer(bus.ServerConfig{ConfigFile: conf}, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { s.Shutdown(); s.WaitForShutdown() }()
		nc, err := bus.Connect(bus.ConnConfig{URLs: []string{s.ClientURL()}, NKeySeedFile: orch.File}, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		if err := nc.FlushTimeout(waitFor); err != nil {
			t.Fatalf("not connected: %v (%v)", err, nc.LastError())
		}
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		fn(ctx, js)
	}
	run(old, func(ctx context.Context, js jetstream.JetStream) {
		if _, err := bus.EnsureStream(ctx, js, subj, 1); err != nil {
			t.Fatal(err)
		}
		b, err := bus.EnsureBuckets(ctx, js, 1, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Spec.Put(ctx, events.SpecKey, []byte(`{"spec":1}`)); err != nil {
			t.Fatal(err)
		}
		if _, err := js.Publish(ctx, subj.Health(hostA), []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	})
	if err := os.Rename(filepath.Join(jsDir, "jetstream", "$G"), filepath.Join(jsDir, "jetstream", natsauth.AccountName)); err != nil {
		t.Fatal(err)
	}
	run(res.ConfigFile, func(ctx context.Context, js jetstream.JetStream) {
		st, err := js.Stream(ctx, events.StreamName)
		if err != nil {
			t.Fatalf("Got(stream after the upgrade) = %v, want it kept", err)
		}
		if n := st.CachedInfo().State.Msgs; n != 1 {
			t.Errorf("Got(events after the upgrade) = %d, want 1", n)
		}
		kv, err := js.KeyValue(ctx, events.BucketSpec)
		if err != nil {
			t.Fatal(err)
		}
		if e, err := kv.Get(ctx, events.SpecKey); err != nil || string(e.Value()) != `{"spec":1}` {
			t.Errorf("Got(spec after the upgrade) = %v, want the old spec", err)
		}
	})
}
