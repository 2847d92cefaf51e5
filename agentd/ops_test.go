package agentd

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/tart"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

func TestLockHostWaitsAndFails(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	l1, err := LockHost(context.Background(), home)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := LockHost(ctx, home); !errors.Is(err, ErrLockBusy) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Got(second LockHost) = %v, want ErrLockBusy and the deadline", err)
	}
	got := make(chan error, 1)
	go func() {
		l2, err := LockHost(context.Background(), home)
		if err == nil {
			err = l2.Unlock()
		}
		got <- err
	}()
	if err := l1.Unlock(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("Got(LockHost after unlock) = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("LockHost did not get the lock after it was released")
	}
	if err := l1.Unlock(); err != nil {
		t.Errorf("Got(second Unlock) = %v, want nil", err)
	}
}

func TestPublishImage(t *testing.T) {
	t.Parallel()
	final := name("14", "1.2.16", "3.6")
	tests := []struct {
		name, from, to string
		setup          func(*tarttest.Fake)
		want           string // error text; "" for success
	}{
		{name: "renames and is ready", from: final + "-tmp-1", to: final},
		{name: "to must parse", from: "tmp", to: final + "-x", want: "template"},
		{name: "to lookalike", from: "tmp", to: "bun-build-macos-14-1.2.16-bootstrap", want: "template"},
		{name: "bad from", from: "-rf", to: final, want: "from"},
		{name: "same name", from: final, to: final, want: "already the final name"},
		{name: "missing from", from: "nothing", to: final, want: "does not exist"},
		{name: "to exists", from: final + "-tmp-1", to: final, setup: func(f *tarttest.Fake) { f.Add(local(final)) }, want: "already exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := tarttest.NewFake("")
			f.Add(local(final + "-tmp-1"))
			if tt.setup != nil {
				tt.setup(f)
			}
			a := newAgent(t, testConfig(t), f)
			h, err := a.PublishImage(context.Background(), tt.from, tt.to)
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("Got(PublishImage) error = %v, want one mentioning %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r, _ := h.Release("14"); !r.Ready || f.Has(tt.from) {
				t.Errorf("Got(after publish) = %+v, from still there %v", r, f.Has(tt.from))
			}
		})
	}
}

func TestPublishImageWaitsForTheLock(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	f := tarttest.NewFake("")
	f.Add(local("tmp"))
	a := newAgent(t, cfg, f)
	l, err := LockHost(context.Background(), cfg.TartHome)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Unlock() }()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := a.PublishImage(ctx, "tmp", name("14", "1.2.16", "3.6")); !errors.Is(err, ErrLockBusy) {
		t.Fatalf("Got(PublishImage while locked) = %v, want ErrLockBusy", err)
	}
	if f.Calls(tarttest.OpRename) != 0 {
		t.Errorf("renamed without the lock")
	}
}

type outcome struct {
	VM     string
	Result events.PruneResult
	Reason string
}

func TestPruneCommand(t *testing.T) {
	t.Parallel()
	cur14, old14, old13 := name("14", "1.2.16", "3.6"), name("14", "1.2.16", "3.5"), name("13", "1.2.16", "3.5")
	tests := []struct {
		name    string
		req     events.PruneRequest
		want    []outcome
		deleted []string
	}{
		{name: "outside any window", req: events.PruneRequest{VMs: []string{old14}},
			want: []outcome{{old14, events.PruneSkipped, "outside_window"}}},
		{name: "operator's now", req: events.PruneRequest{VMs: []string{old14, old13, "ubuntu", cur14, "gone"}, Now: true},
			want: []outcome{
				{old14, events.PruneDeleted, "bootstrap_outdated"},
				{old13, events.PruneSkipped, "replacement_not_ready"},
				{cur14, events.PruneSkipped, "expected_image"},
				{"ubuntu", events.PruneSkipped, "not_ours"},
				{"gone", events.PruneSkipped, events.PruneReasonGone},
			}, deleted: []string{old14}},
		{name: "dry run", req: events.PruneRequest{VMs: []string{old14}, Now: true, DryRun: true},
			want: []outcome{{old14, events.PrunePlanned, "bootstrap_outdated"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := tarttest.NewFake("")
			f.Add(local(cur14), events.VM{Name: old14, Source: "local", State: events.VMStopped, SizeGB: 42}, local(old13), local("ubuntu"))
			a, nc, _ := running(t, slowConfig(t), f)
			pruned := make(chan *nats.Msg, 16)
			if _, err := nc.ChanSubscribe("vmfleet.prune."+a.Host()+".*", pruned); err != nil {
				t.Fatal(err)
			}
			if err := nc.Flush(); err != nil {
				t.Fatal(err)
			}
			r := request(t, nc, cmdSubject(a, events.VerbPrune), command(t, events.VerbPrune, tt.req))
			if !r.OK || r.Health == nil {
				t.Fatalf("Got(reply) = %+v, want ok with health", r)
			}
			var got []outcome
			for _, o := range r.Prune {
				got = append(got, outcome{o.VM, o.Result, o.Reason})
				if o.DryRun != tt.req.DryRun || o.Host != a.Host() {
					t.Errorf("Got(outcome %s) = dry %v host %q", o.VM, o.DryRun, o.Host)
				}
				if o.VM == old14 && o.Result != events.PruneSkipped && o.SizeGB != 42 {
					t.Errorf("Got(size of %s) = %d GB, want 42", o.VM, o.SizeGB)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
			for range tt.want {
				var m *nats.Msg
				select {
				case m = <-pruned:
				case <-time.After(5 * time.Second):
					t.Fatal("no prune event within 5s")
				}
				env, err := events.Decode(m.Data)
				if err != nil {
					t.Fatal(err)
				}
				o, err := events.DecodeData[events.PruneOutcome](env, events.TypePrune)
				if err != nil || m.Subject != "vmfleet.prune."+a.Host()+"."+string(o.Result) {
					t.Errorf("Got(prune event) = %s %+v %v", m.Subject, o, err)
				}
			}
			var left []string
			for _, n := range []string{cur14, old14, old13, "ubuntu"} {
				if !slices.Contains(tt.deleted, n) {
					left = append(left, n)
				}
			}
			slices.Sort(left)
			if !cmp.Equal(left, f.Names()) {
				t.Errorf("Got(VMs left) = %v, want %v", f.Names(), left)
			}
		})
	}
}

func TestPruneTartFailure(t *testing.T) {
	t.Parallel()
	f := tarttest.NewFake("")
	old := name("14", "1.2.16", "3.5")
	f.Add(local(name("14", "1.2.16", "3.6")), local(old))
	a := newAgent(t, testConfig(t), f)
	f.FailNext(tarttest.OpDelete, &tart.Error{Args: []string{"delete", old}, ExitCode: 1, Stderr: "Error: busy"})
	out, _, err := a.Prune(context.Background(), events.PruneRequest{VMs: []string{old}, Now: true})
	if err != nil || len(out) != 1 || out[0].Result != events.PruneFailed || !strings.Contains(out[0].Reason, "busy") {
		t.Errorf("Got(Prune with a failing delete) = %+v, %v, want one failed outcome", out, err)
	}
	f.FailNext(tarttest.OpList, &tart.Error{Args: []string{"list"}, Kind: tart.ErrTimeout})
	if _, _, err := a.Prune(context.Background(), events.PruneRequest{VMs: []string{old}, Now: true}); !errors.As(err, new(*tart.Error)) {
		t.Errorf("Got(Prune with a failing list) = %v, want the tart error", err)
	}
}
