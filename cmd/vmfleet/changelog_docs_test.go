package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// section is the text of doc from the line heading to the next heading of
// the same or a higher level, "" when there is no such heading.
func section(doc, heading string) string {
	level := strings.IndexByte(heading, ' ')
	_, rest, ok := strings.Cut(doc, "\n"+heading+"\n")
	if !ok || level < 1 {
		return ""
	}
	for _, l := range strings.SplitAfter(rest, "\n") {
		if n := strings.IndexByte(l, ' '); strings.HasPrefix(l, "#") && n > 0 && n <= level && strings.Trim(l[:n], "#") == "" {
			return rest[:strings.Index(rest, l)]
		}
	}
	return rest
}

// TestUpgradeStepsInChangelog: every step docs/security.md gives for an
// upgrade (its "Upgrading from …" paragraphs' commands) is in CHANGELOG.md's
// unreleased Upgrading notes and in docs/operate.md's Upgrade order, where
// someone upgrading reads, word for word.
func TestUpgradeStepsInChangelog(t *testing.T) {
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	sec, changelog, operate := read("../../docs/security.md"), read("../../CHANGELOG.md"), read("../../docs/operate.md")
	notes := section(section(changelog, "## [Unreleased]"), "### Upgrading")
	order := section(operate, "## Upgrade order")
	if notes == "" || order == "" {
		t.Fatalf("Got(CHANGELOG's [Unreleased] / ### Upgrading: %d bytes, operate.md's ## Upgrade order: %d bytes), want both", len(notes), len(order))
	}
	var steps []string
	for _, p := range regexp.MustCompile(`(?s)\*\*Upgrading[^*]*\*\*(.*?)\n\n`).FindAllStringSubmatch(sec, -1) {
		for _, c := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(p[1], -1) {
			if strings.Contains(c[1], " ") { // a command, not a name
				steps = append(steps, c[1])
			}
		}
	}
	if len(steps) == 0 {
		t.Fatal("Got(no upgrade step in docs/security.md), want the JetStream account's move")
	}
	for _, s := range steps {
		if !strings.Contains(notes, "`"+s+"`") {
			t.Errorf("Got(CHANGELOG.md's Upgrading notes without `%s`), want the step", s)
		}
		if !strings.Contains(order, "`"+s+"`") {
			t.Errorf("Got(docs/operate.md's Upgrade order without `%s`), want the step", s)
		}
	}
}
