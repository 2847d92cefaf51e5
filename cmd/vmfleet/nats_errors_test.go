package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/internal/natsauth"
)

// TestOrchestratorNamesNATSRefusal: the orchestrator run with credentials
// the server lets in but may not make the stream (a read-only consumer's),
// or with a stream larger than the account may store, says in /readyz
// which URL, which identity, and what the server refused, instead of
// "create stream VMFLEET: context deadline exceeded".
func TestOrchestratorNamesNATSRefusal(t *testing.T) {
	t.Parallel()
	url, dir := generatedServer(t)
	seed := func(name string) string { return filepath.Join(dir, natsauth.CredsDir, name+natsauth.SeedExt) }
	who := func(name string) string {
		pub, err := natsauth.PublicKey(seed(name))
		if err != nil {
			t.Fatal(err)
		}
		return "nkey seed file " + seed(name) + " (" + pub + ")"
	}
	t.Run("permission violation", func(t *testing.T) {
		t.Parallel()
		base, done, stderr := startOrchestrator(t, "--nats-url", url, "--nats-nkey-seed", seed("ops"))
		waitStarting(t, base, done, stderr, "nats: setting up stream VMFLEET and the KV buckets: create stream VMFLEET: context deadline exceeded: NATS "+url+
			" as "+who("ops")+`: the server refused: Permissions Violation for Publish to "$JS.API.STREAM.UPDATE.VMFLEET"`)
	})
	t.Run("stream larger than the account's store", func(t *testing.T) {
		t.Parallel()
		base, done, stderr := startOrchestrator(t, "--nats-url", url, "--nats-nkey-seed", seed(natsauth.DefaultOrchestrator),
			"--stream-max-bytes", "4294967296")
		waitStarting(t, base, done, stderr, "nats: setting up stream VMFLEET and the KV buckets: create stream VMFLEET: "+
			"nats: API error: code=500 err_code=10047 description=insufficient storage resources available: NATS "+url+" as "+who(natsauth.DefaultOrchestrator))
	})
}

// TestEventsNamesNATSRefusal: `vmfleet events` with a host's identity,
// which may neither replay the stream nor follow every subject, stops with
// the URL, the identity and the subject the server refused. The seed is
// made by hand (no generator's comment), so the server is what refuses it.
func TestEventsNamesNATSRefusal(t *testing.T) {
	t.Parallel()
	url, dir := generatedServer(t)
	seed := handMadeSeed(t, filepath.Join(dir, natsauth.CredsDir, "mac-01"+natsauth.SeedExt))
	pub, err := natsauth.PublicKey(seed)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args    []string
		subject string
	}{
		{[]string{"--since", "1h"}, "$JS.API.CONSUMER.CREATE.VMFLEET."}, // then the consumer's random name
		{nil, `vmfleet.>"`},
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		var out, errw syncBuffer
		code := execute(ctx, append([]string{"events", "--nats-url", url, "--nats-nkey-seed", seed, "--log-format", "json"}, tt.args...), &out, &errw)
		cancel()
		verb := "Publish"
		if tt.args == nil {
			verb = "Subscription"
		}
		want := "vmfleet: events refused: NATS " + url + " as nkey seed file " + seed + " (" + pub + "): the server refused: Permissions Violation for " +
			verb + ` to "` + tt.subject
		if code == 0 || !strings.Contains(errw.String(), want) {
			t.Errorf("Got(events %v: exit, stderr) = %d, %q; want non-zero and %q", tt.args, code, errw.String(), want)
		}
	}
}
