package prunes

import (
	"math"
	"time"
)

// Budget is the disruption budget (cleanup.max_prune_hosts_fraction):
// the distinct hosts sent a window prune in one window occurrence, keyed by
// the occurrence's opening instant. Owned by the loop.
type Budget struct {
	occ   time.Time
	hosts map[string]bool
	// Logged: the hold-back was logged for this occurrence (set by the
	// caller).
	Logged bool
}

// Limit is ceil(fraction × hosts), the budget of one occurrence.
func Limit(fraction float64, hosts int) int {
	// The epsilon keeps 0.1 × 30 at 3, not 4.
	return int(math.Ceil(fraction*float64(hosts) - 1e-9))
}

// Admit filters a pass's prune wants: window prunes of hosts already counted
// in the occurrence opened at occ go, and of new hosts while fewer than limit
// are counted (each admitted host counts, whether or not its prune is sent
// before the window closes); others are held back. Prunes outside the
// budget (disk emergencies) always go. It returns the wants that go (wants
// is reused) and how many were held back.
func Admit[W any](b *Budget, occ time.Time, limit int, wants []W, key func(W) (host string, budgeted bool)) ([]W, int) {
	if !occ.Equal(b.occ) || b.hosts == nil {
		b.occ, b.hosts, b.Logged = occ, map[string]bool{}, false
	}
	kept, held := wants[:0], 0
	for _, w := range wants {
		host, budgeted := key(w)
		switch {
		case !budgeted, b.hosts[host]:
		case len(b.hosts) < limit:
			b.hosts[host] = true
		default:
			held++
			continue
		}
		kept = append(kept, w)
	}
	return kept, held
}

// Remaining is how many more hosts the occurrence's budget admits.
func (b *Budget) Remaining(limit int) int { return max(limit-len(b.hosts), 0) }
