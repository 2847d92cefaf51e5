package bus_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
)

// TestExplainNamesURLIdentityAndReason: against a real nats-server, what
// fails (no server at the URL, a wrong password, a subject the user may not
// publish to) is worded with the URL, the identity and the server's own
// reason, never the password.
func TestExplainNamesURLIdentityAndReason(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(conf, []byte(`listen: "127.0.0.1:-1"
authorization { users: [ { user: alice, password: "right-pw", permissions: {
  publish: { allow: ["ok.>", "$JS.API.INFO"] }, subscribe: { allow: ["_INBOX.>"] } } } ] }
`), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := bus.StartServer(bus.ServerConfig{ConfigFile: conf, DataDir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	url := srv.ClientURL()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nowhere := "nats://" + ln.Addr().String()
	_ = ln.Close()
	subj, _ := events.NewSubjects("")

	for _, tt := range []struct {
		name, url, password string
		connected           bool
		want                string
	}{
		{name: "no server at the URL", url: nowhere, password: "right-pw",
			want: fmt.Sprintf(`create stream VMFLEET: context deadline exceeded: NATS %s as user "alice": connection refused: no NATS server listens there (dial tcp %s: connect: connection refused)`, nowhere, strings.TrimPrefix(nowhere, "nats://"))},
		{name: "wrong password", url: url, password: "wrong-pw",
			want: fmt.Sprintf(`create stream VMFLEET: context deadline exceeded: NATS %s as user "alice": authorization violation: the server refused these credentials`, url)},
		{name: "permission violation", url: url, password: "right-pw", connected: true,
			want: fmt.Sprintf(`create stream VMFLEET: context deadline exceeded: NATS %s as user "alice": the server refused: Permissions Violation for Publish to "$JS.API.STREAM.UPDATE.VMFLEET"`, url)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			attempts := make(chan error, 100)
			nc, err := bus.Connect(bus.ConnConfig{URLs: []string{tt.url}, User: "alice", Password: tt.password, ReconnectWait: 50 * time.Millisecond,
				OnConnectError: func(err error) {
					select {
					case attempts <- err:
					default:
					}
				}}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if tt.connected {
				if err := nc.FlushTimeout(5 * time.Second); err != nil {
					t.Fatalf("not connected: %v", err)
				}
			} else {
				waitAttempt(t, attempts)
			}
			js, err := jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			_, err = bus.EnsureStream(ctx, js, subj, 1)
			if err == nil {
				t.Fatal("Got(EnsureStream) = nil, want an error")
			}
			if tt.connected {
				_ = nc.Flush() // the server's -ERR comes before this PONG
			}
			got := bus.Explain(nc, err)
			if got.Error() != tt.want {
				t.Errorf("Got(Explain) =\n%s\nwant\n%s", got, tt.want)
			}
			if strings.Contains(got.Error(), tt.password) {
				t.Errorf("Got(Explain) holds the password: %s", got)
			}
			if bus.Explain(nc, got) != got {
				t.Error("Got(Explain of an explained error) = wrapped again, want it as is")
			}
		})
	}
}

// TestExplainHeadersBeforeConnect: a message with headers published before
// the client ever reached a server fails in nats.go as "headers not
// supported by this server"; it is worded as not connected, with the cause.
func TestExplainHeadersBeforeConnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nowhere := "nats://" + ln.Addr().String()
	_ = ln.Close()
	seed := filepath.Join(t.TempDir(), "mac-01.nk")
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seedText, _ := kp.Seed()
	pub, _ := kp.PublicKey()
	if err := os.WriteFile(seed, seedText, 0o600); err != nil {
		t.Fatal(err)
	}
	attempts := make(chan error, 100)
	nc, err := bus.Connect(bus.ConnConfig{URLs: []string{nowhere}, NKeySeedFile: seed, ReconnectWait: 50 * time.Millisecond,
		OnConnectError: func(err error) {
			select {
			case attempts <- err:
			default:
			}
		}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	waitAttempt(t, attempts)
	msg := nats.NewMsg("vmfleet.host.mac-01.health")
	msg.Header.Set(nats.MsgIdHdr, "1")
	err = nc.PublishMsg(msg)
	if err == nil {
		t.Fatal("Got(publish with headers before connecting) = nil, want an error")
	}
	want := fmt.Sprintf(`publish: not connected: NATS %s as nkey seed file %s (%s): connection refused: no NATS server listens there (dial tcp %s: connect: connection refused)`,
		nowhere, seed, pub, strings.TrimPrefix(nowhere, "nats://"))
	if strings.Contains(bus.Explain(nc, err).Error(), string(seedText)) {
		t.Error("Got(Explain) holds the seed")
	}
	if got := bus.Explain(nc, fmt.Errorf("publish: %w", err)); got.Error() != want {
		t.Errorf("Got(Explain) =\n%s\nwant\n%s", got, want)
	}
}

// waitAttempt waits for a connect attempt that failed with the network's or
// the server's own error (the first one only says no server was reached).
func waitAttempt(t *testing.T, attempts <-chan error) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case err := <-attempts:
			if !errors.Is(err, nats.ErrNoServers) || strings.Contains(err.Error(), "refused") {
				return
			}
		case <-timeout:
			t.Fatal("no failed connect attempt with a cause within 10s")
		}
	}
}

// TestExplainStaleViolation: nats.go keeps a permissions violation as the
// connection's last error until it reconnects; an error more than
// StaleViolation after it is not put down to it, and a new violation is
// again.
func TestExplainStaleViolation(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(conf, []byte(`listen: "127.0.0.1:-1"
authorization { users: [ { user: alice, password: "pw", permissions: {
  publish: { allow: ["ok.>"] }, subscribe: { allow: ["_INBOX.>"] } } } ] }
`), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := bus.StartServer(bus.ServerConfig{ConfigFile: conf, DataDir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	var at atomic.Pointer[time.Time]
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	at.Store(&t0)
	defer bus.SetClock(func() time.Time { return *at.Load() })()
	nc, err := bus.Connect(bus.ConnConfig{URLs: []string{srv.ClientURL()}, User: "alice", Password: "pw"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	refuse := func() {
		t.Helper()
		if err := nc.Publish("denied.x", nil); err != nil {
			t.Fatal(err)
		}
		_ = nc.Flush() // the server's -ERR comes before this PONG
		deadline := time.Now().Add(5 * time.Second)
		for !bus.ViolationAt(nc).Equal(*at.Load()) {
			if time.Now().After(deadline) {
				t.Fatal("the violation never reached the error handler")
			}
			time.Sleep(time.Millisecond)
		}
	}
	base := fmt.Sprintf(`request timed out: NATS %s as user "alice"`, srv.ClientURL())
	refused := base + `: the server refused: Permissions Violation for Publish to "denied.x"`
	explain := func(after time.Duration, want string) {
		t.Helper()
		tt := t0.Add(after)
		at.Store(&tt)
		if got := bus.Explain(nc, errors.New("request timed out")).Error(); got != want {
			t.Errorf("Got(Explain %s after the violation) =\n%s\nwant\n%s", after, got, want)
		}
	}
	refuse()
	explain(time.Second, refused)
	explain(bus.StaleViolation, refused)
	explain(bus.StaleViolation+time.Second, base)
	t0 = t0.Add(time.Hour)
	at.Store(&t0)
	refuse()
	explain(time.Second, refused)
}
