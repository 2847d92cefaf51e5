package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
)

// hostileHealth is the mix of messages sent on health subjects, by what the
// orchestrator must do with them.
var hostileHealth = []struct {
	kind string
	n    int
}{
	{"garbage", 2200},      // random bytes → decode
	{"malformed", 1500},    // JSON of the wrong shape or types → decode or validate
	{"wrong_host", 1500},   // a valid event whose host is not the subject's → host_mismatch
	{"stale_seq", 1000},    // the host's boot, an earlier sequence → stale_seq
	{"old_boot", 500},      // another boot, checked an hour ago → stale_seq
	{"replay", 500},        // the host's latest event again → duplicate (or stale_seq once newer)
	{"oversized", 20},      // over events.MaxEventBytes → oversized
	{"other_subject", 300}, // garbage on build and prune subjects: no crash, no effect
}

// hostileCommands is the mix of requests sent to a real agent.
var hostileCommands = []struct {
	kind string
	n    int
	ok   bool // the agent answers ok (and changes nothing); else bad_request
}{
	{"garbage", 1045, false},
	{"unknown_verb", 500, false},
	{"bad_pull", 450, false},      // invalid source or name, or a name that is not ours
	{"pull_present", 5, true},     // the expected image from another registry: already present
	{"bad_force", 300, false},     // a state that is not one
	{"bad_prune", 150, false},     // no names, or invalid names
	{"protected_prune", 25, true}, // expected, running, suspended and foreign VMs: skipped
	{"oversized", 5, false},
}

// TestHostileMessages sends 10,000 random and hostile messages on the
// fleet's subjects. Nothing crashes; every health message is rejected with
// a counted reason (or counted as a duplicate); every command gets a
// bad_request reply, or an ok that changes nothing; the fleet state, the
// VMs on the hosts and the builds are what they were.
func TestHostileMessages(t *testing.T) {
	n := startNATSConf(t, "max_payload: 2MB")
	w := newWorld(t, []string{n.url()})
	a := w.startOrch("a")
	waitFor(t, "a leads", 20*time.Second, a.leads)
	vms := []events.VM{
		{Name: image14(), SizeGB: 40},
		{Name: "bun-build-macos-14-1.2.15-bootstrap-3.6", State: events.VMRunning},
		{Name: "bun-build-macos-14-1.2.16-bootstrap-3.5", State: events.VMSuspended},
		{Name: "my-personal-vm"},
		{Name: "ghcr.io/cirruslabs/macos-sonoma-base:latest", Source: "oci"},
	}
	target, other := w.startAgent("mac-0"), w.startAgent("mac-1")
	target.state.Add(vms...)
	other.state.Add(vms[0])
	waitFor(t, "both hosts ready, mac-0 past seq 3", 20*time.Second, func() bool {
		v, ok := a.hosts()[target.host]
		return allReady(a, target.host, other.host) && ok && v.Seq >= 3
	})
	before := fleetView(a)
	vmsBefore := [][]string{target.state.Names(), other.state.Names()}
	rejBefore, dupBefore := rejections(a), a.metric("vmfleet_orchestrator_events_duplicate_total")

	nc := natsConn(t, n.url())
	g := newHostile(t, a, nc, target.host)
	sent := g.sendHealth()
	replies := g.sendCommands()

	// Every health message is accounted for: rejected by reason, or a duplicate.
	var rej map[string]float64
	var dup float64
	counted := func() float64 {
		rej, dup = rejections(a), a.metric("vmfleet_orchestrator_events_duplicate_total")-dupBefore
		total := dup
		for r, v := range rej {
			rej[r] = v - rejBefore[r]
			total += rej[r]
		}
		return total
	}
	want := float64(sent["health"])
	took := waitFor(t, "every hostile health event counted", 60*time.Second, func() bool { return counted() >= want })
	if got := counted(); got != want {
		t.Errorf("Got(rejected + duplicates) = %v, want %v (one per hostile health event)", got, want)
	}
	checks := []struct {
		what string
		got  float64
		want int
	}{
		{"host_mismatch", rej["host_mismatch"], sent["wrong_host"]},
		{"oversized", rej["oversized"], sent["oversized"]},
		{"stale_seq + duplicates", rej["stale_seq"] + dup, sent["stale_seq"] + sent["old_boot"] + sent["replay"]},
		{"decode + validate", rej["decode"] + rej["validate"], sent["garbage"] + sent["malformed"]},
	}
	for _, c := range checks {
		if c.got != float64(c.want) {
			t.Errorf("Got(%s) = %v, want %d", c.what, c.got, c.want)
		}
	}
	wantReplies := map[string]int{}
	for _, c := range hostileCommands {
		code := events.CodeBadRequest
		if c.ok {
			code = "ok"
		}
		wantReplies[code] += c.n
	}
	if diff := cmp.Diff(wantReplies, replies); diff != "" {
		t.Errorf("Got(agent replies by code) diff (-want +got):\n%s", diff)
	}
	t.Logf("FIGURE hostile input: %d messages (%d health, %d other subjects, %d commands); orchestrator counted them in %s: %v, duplicates %v; agent replies %v",
		sent["total"], sent["health"], sent["other_subject"], sent["commands"], took.Round(time.Millisecond), rej, dup, replies)

	// Nothing changed, nothing crashed.
	for _, p := range []*proc{a.p, target.p, other.p} {
		if !p.running() {
			t.Errorf("Got(%s running) = false, want true", p.name)
		}
	}
	waitFor(t, "a ready", 10*time.Second, a.leads)
	if diff := cmp.Diff(before, fleetView(a)); diff != "" {
		t.Errorf("Got(fleet state) changed (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(vmsBefore, [][]string{target.state.Names(), other.state.Names()}); diff != "" {
		t.Errorf("Got(VMs on the hosts) changed (-before +after):\n%s", diff)
	}
	if len(w.bk.Builds()) != 0 || len(a.builds()) != 0 {
		t.Errorf("Got(builds) = %d at Buildkite, %d records, want none", len(w.bk.Builds()), len(a.builds()))
	}
}

// fleetView is what must not change: each host's state and releases.
func fleetView(o *orchProc) map[string]string {
	out := map[string]string{}
	for h, v := range o.hosts() {
		b, _ := json.Marshal(v.Releases)
		out[h] = v.State + " " + string(b)
	}
	return out
}

// rejections reads the orchestrator's rejected events by reason.
func rejections(o *orchProc) map[string]float64 {
	out := map[string]float64{}
	for _, r := range []string{"decode", "validate", "host_mismatch", "stale_seq", "oversized"} {
		out[r] = o.metric("vmfleet_orchestrator_events_rejected_total", "reason="+r)
	}
	return out
}

// hostile generates the messages from a fixed seed.
type hostile struct {
	t      *testing.T
	nc     *nats.Conn
	rnd    *rand.Rand
	host   string
	boot   string
	seq    uint64
	latest []byte // the host's latest health event as stored
	sent   map[string]int
}

func newHostile(t *testing.T, o *orchProc, nc *nats.Conn, host string) *hostile {
	t.Helper()
	g := &hostile{t: t, nc: nc, rnd: rand.New(rand.NewPCG(7, 7)), host: host, sent: map[string]int{}}
	c, ctx, cancel := o.api()
	v, err := c.Host(ctx, host)
	cancel()
	if err != nil || v.Health == nil {
		t.Fatalf("host %s: %v", host, err)
	}
	g.boot, g.seq = v.Health.BootID, v.Health.Seq
	js, _ := jetstream.New(nc)
	s, err := js.Stream(t.Context(), events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	subj, _ := events.NewSubjects("")
	m, err := s.GetLastMsgForSubject(t.Context(), subj.Health(host))
	if err != nil {
		t.Fatal(err)
	}
	g.latest = m.Data
	return g
}

func (g *hostile) bytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.rnd.UintN(256))
	}
	return b
}

// health is a valid-looking health event of host.
func (g *hostile) health(host, boot string, seq uint64, checked time.Time) []byte {
	h := events.HostHealth{Host: host, Agent: "intruder", BootID: boot, Seq: seq, CheckedAt: checked, HeartbeatSeconds: 1,
		Ready: false, Releases: []events.ReleaseStatus{{Release: "14", ExpectedImage: image14(), Reason: events.ReasonImageMissing, Bun: "1.2.16", Bootstrap: "3.6"}}}
	b, err := events.Encode(events.TypeHostHealth, "/intruder", host, "", checked, h)
	if err != nil {
		g.t.Fatal(err)
	}
	return b
}

var malformed = []string{
	`{}`, `[]`, `null`, `"x"`, `1`, `{"specversion":1}`,
	`{"specversion":"1.0","id":"x","source":"/x","type":"dev.vmfleet.host.health.v1"}`,
	`{"specversion":"1.0","id":"x","source":"/x","type":"dev.vmfleet.host.health.v1","data":{"host":"mac-0","seq":"many"}}`,
	`{"specversion":"1.0","id":"x","source":"/x","type":"dev.vmfleet.host.health.v1","data":{"host":7}}`,
	`{"specversion":"1.0","id":"x","source":"/x","type":"dev.vmfleet.host.health.v1","data":{"host":"mac-0","boot_id":"b","seq":1,"releases":"all"}}`,
	`{"specversion":"1.0","id":"x","source":"/x","type":"dev.vmfleet.host.health.v1","data":{"host":"mac-0","boot_id":"b","seq":1}}`,
	`{"specversion":"0.3","id":"x","source":"/x","type":"dev.vmfleet.host.health.v1","data":{}}`,
	`{"specversion":"1.0","id":"x","source":"/x","type":"dev.vmfleet.cmd.prune.v1","data":{"vms":["x"]}}`,
	`{"specversion":"1.0","id":"","source":"","type":"","data":{"host":"mac-0"}}`,
}

// sendHealth publishes the hostile health mix, shuffled, and returns counts.
func (g *hostile) sendHealth() map[string]int {
	g.t.Helper()
	subj, _ := events.NewSubjects("")
	var kinds []string
	for _, k := range hostileHealth {
		for range k.n {
			kinds = append(kinds, k.kind)
		}
	}
	g.rnd.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	hourAgo := time.Now().Add(-time.Hour).UTC()
	for i, k := range kinds {
		subject, data := subj.Health(g.host), []byte(nil)
		switch k {
		case "garbage":
			data = g.bytes(1 + g.rnd.IntN(2048))
		case "malformed":
			data = []byte(malformed[g.rnd.IntN(len(malformed))])
		case "wrong_host":
			subject = subj.Health(fmt.Sprintf("evil-%d", g.rnd.IntN(50)))
			if g.rnd.IntN(2) == 0 {
				subject = subj.Health("mac-1")
			}
			data = g.health(g.host, g.boot, g.seq+1000, time.Now())
		case "stale_seq":
			data = g.health(g.host, g.boot, 1+g.rnd.Uint64N(g.seq-1), time.Now())
		case "old_boot":
			data = g.health(g.host, fmt.Sprintf("old-boot-%d", i), 1+g.rnd.Uint64N(100), hourAgo)
		case "replay":
			data = g.latest
		case "oversized":
			data = bytes.Repeat([]byte(" "), events.MaxEventBytes+1+g.rnd.IntN(1000))
		case "other_subject":
			subject = []string{subj.Prune(g.host, events.PruneDeleted), subj.Build("14", events.BuildPassed), subj.Readiness()}[g.rnd.IntN(3)]
			data = g.bytes(1 + g.rnd.IntN(512))
		}
		if err := g.nc.Publish(subject, data); err != nil {
			g.t.Fatalf("publish %s: %v", k, err)
		}
		g.sent[k]++
	}
	if err := g.nc.Flush(); err != nil {
		g.t.Fatal(err)
	}
	g.sent["health"] = len(kinds) - g.sent["other_subject"]
	g.sent["total"] += len(kinds)
	return g.sent
}

// command is one hostile request: verb and payload.
func (g *hostile) command(kind string) (string, []byte) {
	verbs := events.Verbs
	switch kind {
	case "garbage":
		return verbs[g.rnd.IntN(len(verbs))], append([]byte("{"), g.bytes(1+g.rnd.IntN(256))...)
	case "unknown_verb":
		return []string{"reboot", "exec", "delete", "rm", "shell"}[g.rnd.IntN(5)], []byte(`{}`)
	case "bad_pull":
		bad := []events.PullRequest{
			{Source: "; rm -rf /", Name: image14()}, {Source: "ghcr.io/x/y:1", Name: "../../etc"},
			{Source: "ghcr.io/x/y:1", Name: "not-ours"}, {Source: "", Name: ""}, {Source: "ghcr.io/x/y:1", Name: "my-personal-vm"},
		}
		b, _ := json.Marshal(bad[g.rnd.IntN(len(bad))])
		return events.VerbPull, b
	case "pull_present":
		b, _ := json.Marshal(events.PullRequest{Source: "ghcr.io/evil/bun:latest", Name: image14()})
		return events.VerbPull, b
	case "bad_force":
		b, _ := json.Marshal(map[string]any{"state": []string{"", "READY", "maybe", "forced_ready"}[g.rnd.IntN(4)], "ttl": "1h"})
		return events.VerbForce, b
	case "bad_prune":
		b, _ := json.Marshal(map[string]any{"vms": [][]string{nil, {""}, {"../x"}, {"a b"}, {strings.Repeat("x", 300)}}[g.rnd.IntN(5)]})
		return events.VerbPrune, b
	case "protected_prune":
		req := events.PruneRequest{VMs: []string{image14(), "bun-build-macos-14-1.2.15-bootstrap-3.6",
			"bun-build-macos-14-1.2.16-bootstrap-3.5", "my-personal-vm"}, Now: g.rnd.IntN(2) == 0, DiskEmergency: g.rnd.IntN(2) == 0}
		b, _ := events.Encode(events.CommandType(events.VerbPrune), "/intruder", g.host, "", time.Now(), req)
		return events.VerbPrune, b
	case "oversized":
		b, _ := events.Encode(events.CommandType(events.VerbPrune), "/intruder", g.host, "", time.Now(),
			events.PruneRequest{VMs: []string{image14()}, Reason: strings.Repeat("x", events.MaxEventBytes)})
		return events.VerbPrune, b
	}
	g.t.Fatalf("unknown command kind %s", kind)
	return "", nil
}

// sendCommands sends the hostile commands one by one and counts the
// replies by code ("ok" for ok). A protected prune must skip every VM.
func (g *hostile) sendCommands() map[string]int {
	g.t.Helper()
	subj, _ := events.NewSubjects("")
	var kinds []string
	for _, k := range hostileCommands {
		for range k.n {
			kinds = append(kinds, k.kind)
		}
	}
	g.rnd.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	replies := map[string]int{}
	for _, k := range kinds {
		verb, data := g.command(k)
		m, err := g.nc.Request(subj.Command(g.host, verb), data, 10*time.Second)
		if err != nil {
			g.t.Fatalf("%s command: no reply: %v", k, err)
		}
		env, err := events.Decode(m.Data)
		if err != nil {
			g.t.Fatalf("%s command: reply: %v", k, err)
		}
		r, err := events.DecodeData[events.Reply](env, events.TypeReply)
		if err != nil {
			g.t.Fatalf("%s command: reply: %v", k, err)
		}
		code := r.Code
		if r.OK {
			code = "ok"
		}
		replies[code]++
		for _, o := range r.Prune {
			if o.Result != events.PruneSkipped {
				g.t.Errorf("Got(%s outcome for %s) = %s (%s), want skipped", k, o.VM, o.Result, o.Reason)
			}
		}
		if k == "protected_prune" && len(r.Prune) != 4 {
			g.t.Errorf("Got(protected prune outcomes) = %d, want 4 skipped", len(r.Prune))
		}
	}
	g.sent["commands"] = len(kinds)
	g.sent["total"] += len(kinds)
	return replies
}
