package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

// cli runs the vmfleet binary against o's API with the API token; it
// returns stdout, stderr and the exit code.
func (o *orchProc) cli(args ...string) (string, string, int) {
	o.w.t.Helper()
	_, vmfleet, _ := binaries(o.w.t)
	cmd := exec.Command(vmfleet, append(args, "--server", o.base())...)
	cmd.Env = append(cmd.Environ(), "VMFLEET_API_TOKEN="+apiToken, "NO_COLOR=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		code = ee.ExitCode()
	} else if err != nil {
		o.w.t.Fatalf("vmfleet %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// host is o's view of one host with its last report (GET /api/v1/hosts/{host}).
func (o *orchProc) host(host string) (api.HostDetail, bool) {
	c, ctx, cancel := o.api()
	defer cancel()
	v, err := c.Host(ctx, host)
	return v, err == nil
}

// drainEvents collects the fleet.drain events published from now on.
func drainEvents(t *testing.T, nc *nats.Conn) func() []events.HostDrain {
	t.Helper()
	var mu sync.Mutex
	var got []events.HostDrain
	sub, err := nc.Subscribe("vmfleet.fleet.drain", func(m *nats.Msg) {
		d, err := events.DecodeEither[events.HostDrain](m.Data, events.TypeHostDrain)
		if err != nil {
			t.Errorf("fleet.drain event: %v", err)
			return
		}
		mu.Lock()
		got = append(got, d)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return func() []events.HostDrain {
		mu.Lock()
		defer mu.Unlock()
		return append([]events.HostDrain(nil), got...)
	}
}

// forcedOf is the forced state in o's last report of host, nil when none.
func forcedOf(o *orchProc, host string) *events.Forced {
	v, ok := o.host(host)
	if !ok || v.Health == nil {
		return nil
	}
	return v.Health.Forced
}

// TestDrainResumeThroughCLI: `vmfleet host drain` takes a reporting host
// out of routing through the orchestrator and its agent's force command,
// with who, why and a TTL on the host, in its reports and in a fleet.drain
// event; the drain survives an orchestrator restart and an agent restart;
// draining again is no error; `vmfleet host resume` ends it; a TTL ends it
// by itself, announced as an expire; a stale host and an unknown one are
// refused, saying why.
func TestDrainResumeThroughCLI(t *testing.T) {
	n := startNATS(t)
	w := newWorld(t, []string{n.url()})
	o := w.startOrch("a")
	waitFor(t, "a leads", 20*time.Second, o.leads)
	ag := w.startAgent("mac-07")
	ag.state.Add(events.VM{Name: image14(), SizeGB: 40, DiskGB: 60})
	waitFor(t, "mac-07 ready", 20*time.Second, func() bool { return allReady(o, "mac-07") })
	drains := drainEvents(t, natsConn(t, n.url()))

	out, stderr, code := o.cli("host", "drain", "mac-07", "--reason", "disk swap", "--ttl", "4h", "--by", "alice")
	if code != 0 || !strings.Contains(out, "drained mac-07 until ") || !strings.Contains(out, ": disk swap") {
		t.Fatalf("Got(host drain) = exit %d, %q, %q; want exit 0, drained mac-07 until …: disk swap", code, out, stderr)
	}
	waitFor(t, "mac-07 not ready", 10*time.Second, func() bool { return o.hosts()["mac-07"].State == api.HostNotReady })
	f := forcedOf(o, "mac-07")
	if f == nil || f.State != events.ForcedNotReady || f.SetBy != "alice" || f.Reason != "disk swap" ||
		f.Until.Sub(f.SetAt) != 4*time.Hour {
		t.Fatalf("Got(mac-07 forced) = %+v, want not_ready by alice, disk swap, for 4h", f)
	}
	waitFor(t, "fleet.drain event", 5*time.Second, func() bool { return len(drains()) == 1 })
	if ev := drains()[0]; ev.Host != "mac-07" || ev.Action != events.DrainActionDrain || ev.By != "alice" ||
		ev.Reason != "disk swap" || !ev.Until.Equal(f.Until) || ev.Was != nil {
		t.Errorf("Got(fleet.drain event) = %+v, want a drain of mac-07 by alice, disk swap, until %s", ev, f.Until)
	}

	// The drain is kept on the host: an orchestrator restart (the state
	// replayed from the stream) and an agent restart keep it.
	o.p.signal(syscall.SIGTERM)
	if _, ok := o.p.wait(15 * time.Second); !ok {
		t.Fatal("orchestrator did not exit after SIGTERM")
	}
	ag.p.signal(syscall.SIGTERM)
	if _, ok := ag.p.wait(15 * time.Second); !ok {
		t.Fatal("agent did not exit after SIGTERM")
	}
	o.restart()
	ag.start()
	waitFor(t, "a leads again", 20*time.Second, o.leads)
	waitFor(t, "mac-07 reports again", 20*time.Second, func() bool { return o.hosts()["mac-07"].State == api.HostNotReady })
	if f := forcedOf(o, "mac-07"); f == nil || f.SetBy != "alice" || f.Reason != "disk swap" {
		t.Fatalf("Got(mac-07 forced after restarts) = %+v, want the drain by alice", f)
	}

	// Again: no error, the new reason replaces the old one.
	out, stderr, code = o.cli("host", "drain", "mac-07", "--reason", "disk swap, take two", "--by", "bob")
	if code != 0 || !strings.Contains(out, "until vmfleet host resume") || !strings.Contains(out, "replaces drained by alice") {
		t.Fatalf("Got(host drain again) = exit %d, %q, %q; want exit 0, replacing alice's drain", code, out, stderr)
	}
	waitFor(t, "bob's drain reported", 10*time.Second, func() bool {
		f := forcedOf(o, "mac-07")
		return f != nil && f.SetBy == "bob" && f.Until.IsZero()
	})

	out, stderr, code = o.cli("host", "resume", "mac-07", "--reason", "new disk in", "--by", "bob")
	if code != 0 || !strings.Contains(out, "resumed mac-07 (was drained by bob") {
		t.Fatalf("Got(host resume) = exit %d, %q, %q; want exit 0, resumed mac-07 (was drained by bob …)", code, out, stderr)
	}
	waitFor(t, "mac-07 ready after resume", 10*time.Second, func() bool { return allReady(o, "mac-07") })
	out, _, code = o.cli("host", "resume", "mac-07")
	if code != 0 || !strings.Contains(out, "showed no drain") {
		t.Errorf("Got(host resume of a resumed host) = exit %d, %q; want exit 0, no drain", code, out)
	}
	waitFor(t, "four fleet.drain events", 5*time.Second, func() bool { return len(drains()) == 4 })
	if ev := drains()[2]; ev.Action != events.DrainActionResume || ev.By != "bob" || ev.Reason != "new disk in" || ev.Was == nil || ev.Forced != nil {
		t.Errorf("Got(resume event) = %+v, want a resume by bob of bob's drain", ev)
	}

	// A TTL ends the drain on the host by itself.
	out, stderr, code = o.cli("host", "drain", "mac-07", "--ttl", "3s", "--json")
	var ev events.HostDrain
	if code != 0 || json.Unmarshal([]byte(out), &ev) != nil || ev.Forced == nil || ev.Until.IsZero() {
		t.Fatalf("Got(host drain --ttl 3s --json) = exit %d, %q, %q; want the drain with its forced state and end", code, out, stderr)
	}
	waitFor(t, "mac-07 ready once the TTL passed", 20*time.Second, func() bool {
		v, ok := o.host("mac-07")
		return ok && v.State == api.HostReady && v.Health.Forced == nil
	})
	if v, _ := o.host("mac-07"); v.Health.CheckedAt.Before(ev.Until) {
		t.Errorf("Got(ready at) = %s, before the drain's end %s", v.Health.CheckedAt, ev.Until)
	}
	waitFor(t, "the expiry's fleet.drain event", 10*time.Second, func() bool { return len(drains()) == 6 })
	if x := drains()[5]; x.Action != events.DrainActionExpire || x.Host != "mac-07" || !x.Until.Equal(ev.Until) || x.By != ev.By {
		t.Errorf("Got(event after the TTL) = %+v, want an expire of mac-07's drain until %s by %s", x, ev.Until, ev.By)
	}

	// Refusals say why.
	_, stderr, code = o.cli("host", "drain", "mac-99")
	if code != 2 || !strings.Contains(stderr, "no such host") {
		t.Errorf("Got(drain unknown host) = exit %d, %q; want exit 2, no such host", code, stderr)
	}
	ag.p.signal(syscall.SIGSTOP)
	waitFor(t, "mac-07 stale", 20*time.Second, func() bool { return o.hosts()["mac-07"].State == api.HostStale })
	_, stderr, code = o.cli("host", "drain", "mac-07", "--reason", "offline")
	ag.p.signal(syscall.SIGCONT)
	if code != 2 || !strings.Contains(stderr, "mac-07 has not reported since") || !strings.Contains(stderr, "force-not-ready") {
		t.Errorf("Got(drain stale host) = exit %d, %q; want exit 2, naming the silence and the fix", code, stderr)
	}
}
