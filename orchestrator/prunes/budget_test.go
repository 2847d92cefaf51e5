package prunes

import (
	"slices"
	"testing"
	"time"
)

func TestBudgetLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fraction float64
		hosts    int
		want     int
	}{
		{0.25, 20, 5}, {0.25, 21, 6}, {0.25, 1, 1}, {0.25, 0, 0},
		{0.1, 30, 3}, {0.3, 10, 3}, {1, 7, 7}, {0.5, 3, 2},
	}
	for _, tt := range tests {
		if got := Limit(tt.fraction, tt.hosts); got != tt.want {
			t.Errorf("Got(Limit(%v, %d)) = %d, want %d", tt.fraction, tt.hosts, got, tt.want)
		}
	}
}

// pruneWant stands in for the orchestrator's prune want.
type pruneWant struct {
	host     string
	budgeted bool
}

func TestPruneBudgetAdmit(t *testing.T) {
	t.Parallel()
	occ1 := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	occ2 := occ1.Add(24 * time.Hour)
	win := func(hosts ...string) []pruneWant {
		var ws []pruneWant
		for _, h := range hosts {
			ws = append(ws, pruneWant{host: h, budgeted: true})
		}
		return ws
	}
	hostsOf := func(ws []pruneWant) []string {
		var out []string
		for _, w := range ws {
			out = append(out, w.host)
		}
		return out
	}
	var b Budget
	steps := []struct {
		name  string
		occ   time.Time
		limit int
		wants []pruneWant
		admit []string
		held  int
		left  int
	}{
		{"first pass: two of three", occ1, 2, win("a", "b", "c"), []string{"a", "b"}, 1, 0},
		{"the same hosts again go, a new one waits", occ1, 2, win("c", "b", "a"), []string{"b", "a"}, 1, 0},
		{"a disk emergency is outside the budget", occ1, 2, append(win("c"), pruneWant{host: "d"}), []string{"d"}, 1, 0},
		{"a larger fleet raises the limit", occ1, 3, win("c", "e"), []string{"c"}, 1, 0},
		{"the next occurrence starts afresh", occ2, 2, win("e", "c", "a"), []string{"e", "c"}, 1, 0},
		{"a smaller fleet admits nobody new", occ2, 1, win("a", "e"), []string{"e"}, 1, 0},
	}
	for _, s := range steps {
		got, held := Admit(&b, s.occ, s.limit, s.wants, func(w pruneWant) (string, bool) { return w.host, w.budgeted })
		if !slices.Equal(hostsOf(got), s.admit) || held != s.held || b.Remaining(s.limit) != s.left {
			t.Errorf("%s: Got(admit) = %v, held %d, remaining %d; want %v, %d, %d", s.name, hostsOf(got), held, b.Remaining(s.limit), s.admit, s.held, s.left)
		}
	}
}
