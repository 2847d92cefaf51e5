package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/vmfleet/vmfleet/internal/cliconfig"
	"github.com/vmfleet/vmfleet/internal/sim/fleetsim"
)

// chaosOptions are the chaos settings `vmfleet demo` and `vmfleet bench
// converge` share.
type chaosOptions struct {
	on     bool
	seed   int64
	rate   string
	window time.Duration
}

// apply turns chaos on in s as the options say.
func (o chaosOptions) apply(s *fleetsim.Config) error {
	if !o.on {
		return nil
	}
	mult, rates, err := fleetsim.ParseChaosRates(o.rate)
	if err != nil {
		return fmt.Errorf("%w: --chaos-rate: %w", cliconfig.ErrConfig, err)
	}
	if o.seed < 0 {
		return fmt.Errorf("%w: --chaos-seed %d: want 0 or more", cliconfig.ErrConfig, o.seed)
	}
	s.Chaos = fleetsim.Chaos{On: true, Seed: uint64(o.seed), Rate: mult, Rates: rates, Window: o.window}
	return nil
}

// printChaos prints what the chaos did and how the fleet healed.
func printChaos(w io.Writer, r fleetsim.Result) {
	c := r.ChaosResult
	if c == nil {
		return
	}
	var kinds []string
	for k, n := range c.Faults {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
	}
	slices.Sort(kinds)
	fmt.Fprintf(w, "chaos (seed %d): faults from %s to %s of fleet time, the last ending at %s: %s\n",
		c.Seed, c.FaultsStart.D(), c.FaultsStop.D(), c.LastFaultEnd.D(), strings.Join(kinds, ", "))
	healed := "did not heal"
	if r.Converged {
		healed = fmt.Sprintf("healed %s (fleet time) after the last fault, %s after the later of it and the clean floor of convergence (%s)",
			c.HealedAfterLastFault.D(), c.HealedAfterFloor.D(), c.ConvergeFloor.D())
	}
	rebuilt := ""
	if c.RebuiltBuilds > 0 {
		rebuilt = fmt.Sprintf(" + %d rebuilt after injected deletes", c.RebuiltBuilds)
	}
	fmt.Fprintf(w, "chaos: %s; builds %d = ideal %d + %d retried after injected failures%s\n", healed, c.Builds, c.IdealBuilds, c.RetriedBuilds, rebuilt)
	var skipped []string
	for k, why := range c.Skipped {
		skipped = append(skipped, k+" ("+why+")")
	}
	slices.Sort(skipped)
	if len(skipped) > 0 {
		fmt.Fprintf(w, "chaos: skipped, not applying to this fleet: %s\n", strings.Join(skipped, ", "))
	}
	var rec []string
	for k, v := range c.Recovery {
		rec = append(rec, fmt.Sprintf("%s %s (max %s, %d)", k, v.Mean.D(), v.Max.D(), v.N))
	}
	slices.Sort(rec)
	if len(rec) > 0 {
		fmt.Fprintf(w, "chaos recovery, mean fleet time after a fault ended: %s\n", strings.Join(rec, "; "))
	}
}
