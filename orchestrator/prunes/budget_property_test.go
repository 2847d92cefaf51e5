package prunes

import (
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// TestBudgetNeverExceeded: over any sequence of passes, window
// occurrences, fleet sizes and budget fractions, the distinct hosts sent a
// budgeted prune in one occurrence never exceed the budget of the pass that
// admitted the last of them, a host admitted once keeps going in its
// occurrence, and a prune outside the budget (disk emergency) always goes.
func TestBudgetNeverExceeded(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		var b Budget
		base := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
		occ := base
		admitted := map[string]bool{} // budgeted hosts admitted in occ
		for pass := range rapid.IntRange(1, 40).Draw(t, "passes") {
			if rapid.IntRange(0, 5).Draw(t, "next occurrence") == 0 {
				occ = occ.Add(24 * time.Hour)
				admitted = map[string]bool{}
			}
			fraction := rapid.SampledFrom([]float64{0.01, 0.1, 0.25, 0.5, 1}).Draw(t, "fraction")
			limit := Limit(fraction, rapid.IntRange(0, 30).Draw(t, "hosts"))
			var wants []pruneWant
			for range rapid.IntRange(0, 12).Draw(t, "wants") {
				wants = append(wants, pruneWant{
					host:     fmt.Sprintf("mac-%02d", rapid.IntRange(0, 20).Draw(t, "host")),
					budgeted: rapid.IntRange(0, 4).Draw(t, "emergency") != 0,
				})
			}
			in := append([]pruneWant(nil), wants...)
			got, held := Admit(&b, occ, limit, wants, func(w pruneWant) (string, bool) { return w.host, w.budgeted })
			if len(got)+held != len(in) {
				t.Fatalf("pass %d: %d go and %d held of %d wants", pass, len(got), held, len(in))
			}
			gone := map[pruneWant]int{}
			for _, w := range got {
				gone[w]++
			}
			before := len(admitted)
			for _, w := range in {
				switch {
				case !w.budgeted || admitted[w.host]:
					if gone[w] == 0 {
						t.Fatalf("pass %d: %+v held back, want it to go (emergency or host already admitted)", pass, w)
					}
				}
			}
			for _, w := range got {
				if w.budgeted {
					admitted[w.host] = true
				}
			}
			if len(admitted) > before && len(admitted) > limit {
				t.Fatalf("pass %d: %d hosts admitted in the occurrence, budget %d", pass, len(admitted), limit)
			}
			if b.Remaining(limit) != max(limit-len(admitted), 0) {
				t.Fatalf("pass %d: remaining %d, want %d", pass, b.Remaining(limit), max(limit-len(admitted), 0))
			}
		}
	})
}
