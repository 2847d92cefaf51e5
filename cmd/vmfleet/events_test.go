package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/internal/bus/bustest"
)

var evAt = time.Date(2025, 3, 1, 12, 0, 5, 0, time.UTC)

func encodeEvent(t *testing.T, typ, subjAttr string, data any) []byte {
	t.Helper()
	b, err := events.Encode(typ, "/test", subjAttr, "", evAt, data)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFormatEvent(t *testing.T) {
	im := events.DefaultImageSpec()
	im.Releases = []string{"13", "14"}
	health := events.HostHealth{Host: "mac-01", BootID: "b", Seq: 7, CheckedAt: evAt, Releases: []events.ReleaseStatus{
		{Release: "13", ExpectedImage: im.ImageName("13"), Ready: true, Reason: events.ReasonReady},
		{Release: "14", ExpectedImage: im.ImageName("14"), Reason: events.ReasonImageMissing}},
		VMs: []events.VM{{Name: "x"}}, Disk: &events.Disk{FreeBytes: 100 << 30, TotalBytes: 500 << 30}}
	tests := []struct {
		name, subject string
		data          []byte
		want          string
	}{
		{name: "health", subject: "vmfleet.host.mac-01.health", data: encodeEvent(t, events.TypeHostHealth, "mac-01", health),
			want: "12:00:05  health    mac-01       not ready: 13 ready, 14 image_missing · seq 7 · 1 VMs · 100 GB free"},
		{name: "build", subject: "vmfleet.build.14.running", data: encodeEvent(t, events.TypeBuild, "k", events.BuildEvent{
			Key: "k", Image: im.ImageName("14"), Release: "14", Host: "mac-01", State: events.BuildRunning, Number: 12, Attempt: 1,
			URL: "https://buildkite.com/acme/build-macos-vm/builds/12", At: evAt}),
			want: "12:00:05  build     14           running  " + im.ImageName("14") + " on mac-01 · #12 · attempt 1 · https://buildkite.com/acme/build-macos-vm/builds/12"},
		{name: "prune", subject: "vmfleet.prune.mac-01.deleted", data: encodeEvent(t, events.TypePrune, "vm", events.PruneOutcome{
			Host: "mac-01", VM: "old-vm", Result: events.PruneDeleted, Reason: "bootstrap_outdated", SizeGB: 40, At: evAt}),
			want: "12:00:05  prune     mac-01       deleted  old-vm · bootstrap_outdated · 40 GB"},
		{name: "readiness", subject: "vmfleet.fleet.readiness", data: encodeEvent(t, events.TypeReadiness, "fleet", events.FleetReadiness{
			Hosts: 4, Ready: 3, Stale: 1, Releases: []events.ReleaseReadiness{{Release: "14", Ready: 3, Total: 3}}, At: evAt}),
			want: "12:00:05  readiness fleet        3/4 hosts ready, 1 stale · 14: 3/3"},
		{name: "readiness with a rollout", subject: "vmfleet.fleet.readiness", data: encodeEvent(t, events.TypeReadiness, "fleet", events.FleetReadiness{
			Hosts: 4, Ready: 4, Releases: []events.ReleaseReadiness{{Release: "14", Ready: 4, Total: 4}}, At: evAt,
			Rollout: &events.Rollout{NextRevision: 9, Hosts: 4, Ready: 1, AutoPromoteHosts: 3, NoSpace: 1,
				Releases: []events.StagedReadiness{{Release: "14", Ready: 1, Total: 4, Builds: 1, Pulls: 2}},
				ETA:      &events.RolloutETA{Basis: events.ETARate, Target: 3, At: evAt.Add(10 * time.Minute)}}}),
			want: "4/4 hosts ready, 0 stale · 14: 4/4 · rollout rev 9: 1/4 hosts hold the staged images (auto-promote at 3), " +
				"1 no space, 1 builds, 2 pulls in flight, ETA 12:10:05 (rate)"},
		{name: "command", subject: "vmfleet.cmd.mac-01.prune", data: encodeEvent(t, events.CommandType(events.VerbPrune), "mac-01",
			events.PruneRequest{VMs: []string{"old-vm"}, DryRun: true}),
			want: `12:00:05  command   mac-01       prune {"dry_run":true,"vms":["old-vm"]}`},
		{name: "spec change", subject: "vmfleet.fleet.spec", data: encodeEvent(t, events.TypeSpecChange, "current", events.SpecHistoryEntry{
			Revision: 9, Key: "current", At: evAt, By: "alice", Reason: "typo fix", Images: im, Previous: 7,
			Changed: "releases 99 → 13,14"}),
			want: "12:00:05  spec      current      rev 9 (was 7) · releases 99 → 13,14 · by alice · typo fix"},
		{name: "host forgotten", subject: "vmfleet.fleet.forget", data: encodeEvent(t, events.TypeHostForgotten, "mac-07", events.HostForgotten{
			Host: "mac-07", By: "alice", Reason: "retired", LastSeen: evAt.Add(-time.Hour), At: evAt}),
			want: "forget    mac-07       forgotten by alice · last seen 2025-03-01T11:00:05Z · retired"},
		{name: "host forgotten automatically", subject: "vmfleet.fleet.forget", data: encodeEvent(t, events.TypeHostForgotten, "mac-07", events.HostForgotten{
			Host: "mac-07", Auto: true, Reason: "stale for 168h0m0s (hosts.forget_after)", LastSeen: evAt, At: evAt}),
			want: "forgotten automatically · last seen"},
		{name: "host drained", subject: "vmfleet.fleet.drain", data: encodeEvent(t, events.TypeHostDrain, "mac-07", events.HostDrain{
			Host: "mac-07", Action: events.DrainActionDrain, By: "alice", Reason: "disk swap", Until: evAt.Add(4 * time.Hour), At: evAt}),
			want: "12:00:05  drain     mac-07       drain by alice · until 2025-03-01T16:00:05Z · disk swap"},
		{name: "host resumed", subject: "vmfleet.fleet.drain", data: encodeEvent(t, events.TypeHostDrain, "mac-07", events.HostDrain{
			Host: "mac-07", Action: events.DrainActionResume, By: "bob", At: evAt}),
			want: "12:00:05  drain     mac-07       resume by bob"},
		{name: "host drain expired", subject: "vmfleet.fleet.drain", data: encodeEvent(t, events.TypeHostDrain, "mac-07", events.HostDrain{
			Host: "mac-07", Action: events.DrainActionExpire, By: "alice", Reason: "disk swap", Until: evAt, At: evAt.Add(time.Minute)}),
			want: "12:00:05  drain     mac-07       expired · drain by alice · until 2025-03-01T12:00:05Z · disk swap"},
		{name: "not an event", subject: "vmfleet.host.mac-01.health", data: []byte("{oops"), want: "invalid   vmfleet.host.mac-01.health cannot decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := formatEvent("vmfleet", tt.subject, tt.data, time.UTC, false)
			if !strings.Contains(got, tt.want) {
				t.Errorf("Got(formatEvent) = %q, want %q", got, tt.want)
			}
		})
	}
	if got := formatEvent("vmfleet", "vmfleet.build.14.failed", encodeEvent(t, events.TypeBuild, "k",
		events.BuildEvent{Key: "k", Release: "14", State: events.BuildFailed, At: evAt}), time.UTC, true); !strings.Contains(got, "\x1b[31mfailed\x1b[0m") {
		t.Errorf("Got(formatEvent on a terminal) = %q, want the state in red", got)
	}
}

func TestEventsSubjects(t *testing.T) {
	tests := []struct {
		in      []string
		want    string
		wantErr bool
	}{
		{want: "vmfleet.>"},
		{in: []string{"build.>", "vmfleet.host.*.health"}, want: "vmfleet.build.> vmfleet.host.*.health"},
		{in: []string{"bad subject"}, wantErr: true},
	}
	for _, tt := range tests {
		c := defaultEventsConfig()
		c.Subjects = tt.in
		got, err := c.subjects()
		if (err != nil) != tt.wantErr || (err == nil && strings.Join(got, " ") != tt.want) {
			t.Errorf("Got(subjects %q) = %q, %v, want %q (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestEventsTail runs `vmfleet events` against a real server: live from now,
// --json, and --since replaying the stream.
func TestEventsTail(t *testing.T) {
	ns := bustest.Server(t, "")
	nc := bustest.Conn(t, ns)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	subj, _ := events.NewSubjects("")
	if _, err := bus.EnsureStream(t.Context(), js, subj, 1); err != nil {
		t.Fatal(err)
	}
	old := encodeEvent(t, events.TypePrune, "vm-old", events.PruneOutcome{Host: "mac-01", VM: "vm-old", Result: events.PruneDeleted, At: evAt})
	if _, err := js.Publish(t.Context(), subj.Prune("mac-01", events.PruneDeleted), old); err != nil {
		t.Fatal(err)
	}
	newer := encodeEvent(t, events.TypeBuild, "k", events.BuildEvent{Key: "k", Image: "img", Release: "14", State: events.BuildPassed, At: evAt})
	tests := []struct {
		name string
		args []string
		want []string // in order
	}{
		{name: "live", args: []string{"--subject", "build.>"}, want: []string{"build     14           passed  img"}},
		{name: "json", args: []string{"--json"}, want: []string{`"type":"dev.vmfleet.build.v1"`}},
		{name: "since", args: []string{"--since", "1h"}, want: []string{"prune     mac-01       deleted  vm-old", "build     14"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			out, errw := &syncBuffer{}, &syncBuffer{}
			done := make(chan int, 1)
			args := append([]string{"events", "--nats-url", ns.ClientURL(), "--log-format", "json"}, tt.args...)
			go func() { done <- execute(ctx, args, out, errw) }()
			// Publish until the tail shows it: a live subscription starts
			// at an unknown moment.
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(out.String(), tt.want[len(tt.want)-1]) {
				if time.Now().After(deadline) {
					cancel()
					t.Fatalf("timed out; output:\n%s\nstderr:\n%s", out.String(), errw.String())
				}
				if _, err := js.Publish(ctx, subj.Build("14", events.BuildPassed), newer); err != nil {
					t.Fatal(err)
				}
				time.Sleep(20 * time.Millisecond)
			}
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("Got(exit) = %d, want 0 on interrupt; stderr:\n%s", code, errw.String())
			}
			got, last := out.String(), -1
			for _, w := range tt.want {
				i := strings.Index(got, w)
				if i <= last {
					t.Fatalf("Got(output) lacks %q after the previous line; output:\n%s", w, got)
				}
				last = i
			}
			if tt.name == "live" && strings.Contains(got, "vm-old") {
				t.Errorf("Got(live output) replays the past, want from now only:\n%s", got)
			}
		})
	}
}
