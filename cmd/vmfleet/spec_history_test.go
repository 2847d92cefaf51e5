package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
)

func TestPrintHistory(t *testing.T) {
	at := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	changes := []events.SpecHistoryEntry{
		{Revision: 9, Key: events.NextSpecKey, At: at.Add(-time.Minute), Deleted: true, Previous: 7, Changed: "staged spec promoted"},
		{Revision: 8, Key: events.SpecKey, At: at.Add(-2 * time.Minute), By: "alice", Reason: "bootstrap bump", Previous: 5, Changed: "bootstrap 3.6 → 3.7"},
		{Revision: 7, Key: events.NextSpecKey, At: at.Add(-3 * time.Hour), By: "alice", Changed: "staged: bootstrap 3.6 → 3.7"},
		{Revision: 5, Key: events.SpecKey, At: at.Add(-72 * time.Hour), By: "config", Changed: "first in history: releases 14"},
	}
	var b bytes.Buffer
	if err := printHistory(&b, changes, at); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	want := [][]string{
		{"REV", "KEY", "WHEN", "BY", "REASON", "CHANGED"},
		{"9 ", "next", "1m ago", " - ", "staged spec promoted"},
		{"8 (in force)", "current", "2026-01-02 11:58:00Z (2m ago)", "alice", "bootstrap bump", "bootstrap 3.6 → 3.7"},
		{"7 ", "next", "3h ago", "alice", "staged: bootstrap 3.6 → 3.7"},
		{"5 ", "current", "3d ago", "config", "first in history"},
	}
	if len(lines) != len(want) {
		t.Fatalf("Got(printHistory) = %d lines, want %d:\n%s", len(lines), len(want), b.String())
	}
	for i, w := range want {
		for _, s := range w {
			if !strings.Contains(lines[i], s) {
				t.Errorf("Got(line %d) = %q, want it to contain %q", i, lines[i], s)
			}
		}
	}
	if strings.Contains(lines[3], "staged)") || strings.Contains(lines[4], "in force") {
		t.Errorf("Got(%q, %q), want only the newest live revision of each key marked", lines[3], lines[4])
	}
	b.Reset()
	if err := printHistory(&b, nil, at); err != nil || !strings.Contains(b.String(), "no spec changes") {
		t.Errorf("Got(printHistory of nothing) = %q, %v", b.String(), err)
	}
}
