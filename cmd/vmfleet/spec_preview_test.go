package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

func TestPrintPreview(t *testing.T) {
	from := events.DefaultImageSpec()
	from.Releases = []string{"13", "14"}
	to := from
	to.Releases, to.BootstrapVersion = []string{"14"}, "3.7"
	p := api.SpecPreview{Action: "set", From: from, To: to, Hosts: 4,
		Releases: []api.ReleaseImpact{
			{Release: "14", Change: "changed", FromImage: from.ImageName("14"), ToImage: to.ImageName("14"), NotReady: 1, ReadyAfter: 3, Missing: 1, NoSpace: 1, BuildsStart: 1, PruneVMs: 3, PruneGB: 120},
			{Release: "13", Change: "removed", FromImage: from.ImageName("13"), NotReady: 4, BuildsCancel: 1, PruneVMs: 4, PruneGB: 160},
		},
		NotReadyFraction: 1, ConfirmNeeded: true, Why: []string{"removes macOS 13", "makes 4 of 4 hosts (100%) not ready, more than spec.confirm_not_ready_fraction (10%)"},
		PrunableAfter: time.Date(2025, 6, 2, 12, 0, 0, 0, time.UTC)}
	p.Total.NotReady, p.Total.NoSpace, p.Total.BuildsStart, p.Total.BuildsCancel, p.Total.PruneVMs, p.Total.PruneGB = 4, 1, 1, 1, 7, 280
	var b bytes.Buffer
	printPreview(&b, p)
	want := "spec set: releases 13, 14 → 14; bootstrap 3.6 → 3.7\n" +
		"RELEASE  CHANGE   NOT READY      READY AFTER  BUILDS  CANCELLED  PULLS  PRUNE LATER    IMAGE\n" +
		"14       changed  1              3            1       0          0      3 VMs, 120 GB  bun-build-macos-14-1.2.16-bootstrap-3.7\n" +
		"13       removed  4              0            0       1          0      4 VMs, 160 GB  bun-build-macos-13-1.2.16-bootstrap-3.6\n" +
		"total             4 of 4 (100%)               1       1          0      7 VMs, 280 GB\n" +
		"1 of 4 hosts lack the disk space for a new image (1 for macOS 14), the disk emergency threshold kept free: " +
		"getting it may fail there until their old images are pruned (vmfleet status HOST shows the disk)\n" +
		"prune candidates go in a cleanup window, not before 2025-06-02 12:00Z (the removal grace)\n" +
		"needs confirmation (--yes): it removes macOS 13 and makes 4 of 4 hosts (100%) not ready, more than spec.confirm_not_ready_fraction (10%)\n"
	if got := b.String(); got != want {
		t.Errorf("Got(printPreview) =\n%s\nwant\n%s", got, want)
	}
}
