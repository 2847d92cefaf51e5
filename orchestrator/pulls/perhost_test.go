package pulls

import (
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus/bustest"
	"github.com/vmfleet/vmfleet/internal/testlog"
	"github.com/vmfleet/vmfleet/orchestrator/hostcmd"
)

// heldAgents serve the pull commands of every host over NATS as an agent
// would, each held until the test releases it (by host and image); they
// count the commands each host has at once.
type heldAgents struct {
	mu      sync.Mutex
	got     chan HostImage // each command as it arrives
	release map[HostImage]chan bool
	open    map[string]int // commands a host has not answered yet
	maxOpen map[string]int
}

func serveHeldPulls(t *testing.T, nc *nats.Conn, subj events.Subjects) *heldAgents {
	t.Helper()
	a := &heldAgents{got: make(chan HostImage, 64), release: map[HostImage]chan bool{}, open: map[string]int{}, maxOpen: map[string]int{}}
	sub, err := nc.Subscribe(subj.Command("*", events.VerbPull), func(m *nats.Msg) {
		env, err := events.Decode(m.Data)
		if err != nil {
			t.Errorf("pull command: %v", err)
			return
		}
		req, err := events.DecodeData[events.PullRequest](env, events.CommandType(events.VerbPull))
		if err != nil {
			t.Errorf("pull command: %v", err)
			return
		}
		hi := HostImage{Host: env.Subject, Image: req.Name}
		a.mu.Lock()
		a.open[hi.Host]++
		a.maxOpen[hi.Host] = max(a.maxOpen[hi.Host], a.open[hi.Host])
		a.mu.Unlock()
		a.got <- hi
		go func() { // the reply waits for the test, not the subscription
			ok := <-a.gate(hi)
			a.mu.Lock()
			a.open[hi.Host]--
			a.mu.Unlock()
			rep := events.Reply{OK: ok, At: time.Now(), Health: &events.HostHealth{Host: hi.Host, BootID: "b1", Seq: 9}}
			if !ok {
				rep = events.Reply{Code: events.CodeTartError, Error: "tart clone: registry unreachable", At: time.Now()}
			}
			data, err := events.Encode(events.TypeReply, "agent", hi.Host, "", rep.At, rep)
			if err == nil {
				err = m.Respond(data)
			}
			if err != nil {
				t.Errorf("pull reply: %v", err)
			}
		}()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return a
}

func (a *heldAgents) gate(hi HostImage) chan bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.release[hi] == nil {
		a.release[hi] = make(chan bool, 1)
	}
	return a.release[hi]
}

// arrived takes the next n commands the agents received.
func (a *heldAgents) arrived(t *testing.T, n int) []HostImage {
	t.Helper()
	var out []HostImage
	for range n {
		select {
		case hi := <-a.got:
			out = append(out, hi)
		case <-time.After(10 * time.Second):
			t.Fatalf("Got(pull commands at the agents) = %v within 10s, want %d", out, n)
		}
	}
	slices.SortFunc(out, cmpHostImage)
	return out
}

func cmpHostImage(x, y HostImage) int {
	if c := strings.Compare(x.Host, y.Host); c != 0 {
		return c
	}
	return strings.Compare(x.Image, y.Image)
}

func inFlight(p *Manager) []HostImage {
	out := slices.Collect(maps.Keys(p.InFlightPairs()))
	slices.SortFunc(out, cmpHostImage)
	return out
}

// TestOnePullPerHost: over a real nats-server, a host with two images to
// pull is sent one pull at a time, and the fleet-wide slot its second
// would have held goes to another host; the second waits on its host
// (Pending says so, naming the pull in flight) and goes the pass after
// the first ends, whether it succeeded or failed.
func TestOnePullPerHost(t *testing.T) {
	srv := bustest.Server(t, "")
	subj, err := events.NewSubjects("")
	if err != nil {
		t.Fatal(err)
	}
	agents := serveHeldPulls(t, bustest.Conn(t, srv), subj)
	finished := make(chan struct{}, 16)
	cfg := Config{Concurrency: 2, Timeout: 15 * time.Second, BackoffBase: time.Minute, BackoffMax: time.Hour}.WithDefaults()
	p, err := New(cfg, Deps{Now: func() time.Time { return t0 }, Log: testlog.New(t, slog.LevelDebug), Reg: prometheus.NewRegistry(),
		Client:  hostcmd.Client{Conn: bustest.Conn(t, srv), Subjects: subj, Source: "orchestrator", Now: time.Now},
		Current: func(string) (string, uint64) { return "b1", 1 }, Wake: func() { finished <- struct{}{} }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	var wants []Want
	for _, host := range []string{"mac-01", "mac-02", "mac-03"} {
		for _, img := range []string{"img-13", "img-14"} {
			wants = append(wants, Want{Host: host, Image: img, Ref: "ghcr.io/a/" + img + ":1", Boot: "b1", Seq: 1})
		}
	}
	hi := func(host, img string) HostImage { return HostImage{Host: host, Image: img} }

	p.Dispatch(ctx, wants, true)
	first := []HostImage{hi("mac-01", "img-13"), hi("mac-02", "img-13")}
	if diff := cmp.Diff(first, inFlight(p)); diff != "" {
		t.Errorf("Got(pulls in flight) diff (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(first, agents.arrived(t, 2)); diff != "" {
		t.Errorf("Got(pull commands at the agents) diff (-want +got):\n%s", diff)
	}
	pending := p.Pending(t0)
	if got := pending[hi("mac-01", "img-14")]; !got.Queued || got.Group != "mac-01" || got.Behind != "img-13" || got.Cap != 1 {
		t.Errorf("Got(Pending(mac-01 img-14)) = %+v, want queued on its host behind img-13", got)
	}
	if got := pending[hi("mac-03", "img-13")]; !got.Queued || got.Group != "" || got.Cap != 2 {
		t.Errorf("Got(Pending(mac-03 img-13)) = %+v, want queued on pulls.max_concurrent", got)
	}

	// mac-01's first pull ends: its second goes.
	agents.gate(hi("mac-01", "img-13")) <- true
	<-finished
	p.Dispatch(ctx, wants, true)
	if diff := cmp.Diff([]HostImage{hi("mac-01", "img-14")}, agents.arrived(t, 1)); diff != "" {
		t.Errorf("Got(pull commands once mac-01's first ended) diff (-want +got):\n%s", diff)
	}

	// mac-02's fails: it backs off and its host is free for its other pull.
	agents.gate(hi("mac-02", "img-13")) <- false
	<-finished
	p.Dispatch(ctx, wants, true)
	if diff := cmp.Diff([]HostImage{hi("mac-02", "img-14")}, agents.arrived(t, 1)); diff != "" {
		t.Errorf("Got(pull commands once mac-02's first failed) diff (-want +got):\n%s", diff)
	}
	if got := p.Pending(t0)[hi("mac-02", "img-13")]; got.Queued || got.Failures != 1 {
		t.Errorf("Got(Pending(mac-02 img-13)) = %+v, want backing off after one failure", got)
	}

	for _, k := range []HostImage{hi("mac-01", "img-14"), hi("mac-02", "img-14")} {
		agents.gate(k) <- true
		<-finished
	}
	p.Dispatch(ctx, wants, true)
	if diff := cmp.Diff([]HostImage{hi("mac-03", "img-13")}, agents.arrived(t, 1)); diff != "" {
		t.Errorf("Got(pull commands at the last pass) diff (-want +got):\n%s", diff)
	}
	agents.gate(hi("mac-03", "img-13")) <- true
	p.Wait()
	agents.mu.Lock()
	defer agents.mu.Unlock()
	if diff := cmp.Diff(map[string]int{"mac-01": 1, "mac-02": 1, "mac-03": 1}, agents.maxOpen); diff != "" {
		t.Errorf("Got(most pull commands a host had at once) diff (-want +got):\n%s", diff)
	}
}

func TestConfigMaxPerHost(t *testing.T) {
	t.Parallel()
	if got := (Config{}).WithDefaults().PerHost; got != 1 {
		t.Errorf("Got(default pulls.max_per_host) = %d, want 1", got)
	}
	err := Config{Concurrency: 10, PerHost: -1}.Validate()
	if err == nil || err.Error() != "pulls.max_per_host: -1: must be 1 or more" {
		t.Errorf("Got(Validate with pulls.max_per_host -1) = %v, want an error naming the key", err)
	}
}

// The hosts with more pulls to do go first, in the pass's order otherwise:
// a host that has its first image pulled waits behind the hosts with none.
func TestOrderLongestChainFirst(t *testing.T) {
	t.Parallel()
	ws := []Want{
		{Host: "mac-01", Image: "14"}, // its 13 is done
		{Host: "mac-02", Image: "13"}, {Host: "mac-02", Image: "14"},
		{Host: "mac-03", Image: "14"},
		{Host: "mac-04", Image: "13"}, {Host: "mac-04", Image: "14"},
	}
	Order(ws)
	var got []string
	for _, w := range ws {
		got = append(got, w.Host+"/"+w.Image)
	}
	want := []string{"mac-02/13", "mac-02/14", "mac-04/13", "mac-04/14", "mac-01/14", "mac-03/14"}
	if !slices.Equal(got, want) {
		t.Errorf("Got(Order) = %v, want %v", got, want)
	}
	Order(nil) // nothing to order
}
