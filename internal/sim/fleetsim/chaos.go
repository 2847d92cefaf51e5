package fleetsim

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Fault kinds: what the chaos of a simulated fleet injects (Config.Chaos).
// Each has a rate of its own (ChaosKinds); the same seed gives the same
// schedule (Schedule).
const (
	// FaultBuildFail: a build fails (its key is built again: a retried build).
	FaultBuildFail = "build_fail"
	// FaultBuildHang: a build runs far longer than it should, then passes.
	FaultBuildHang = "build_hang"
	// FaultBuildkite429: a storm of 429s from the Buildkite API, each
	// announcing RateLimit-Reset at the storm's end.
	FaultBuildkite429 = "buildkite_429"
	// FaultBuildkite5xx: a burst of 500, 502 or 503 answers.
	FaultBuildkite5xx = "buildkite_5xx"
	// FaultCreate500: a build create that Buildkite carried out but
	// answered 500.
	FaultCreate500 = "create_500"
	// FaultWebhookLost, FaultWebhookDuplicated, FaultWebhookReordered: a
	// Buildkite webhook that never reaches the orchestrator, arrives twice,
	// or arrives minutes late, after later ones.
	FaultWebhookLost       = "webhook_lost"
	FaultWebhookDuplicated = "webhook_duplicated"
	FaultWebhookReordered  = "webhook_reordered"
	// FaultLeaderKilled: the leading orchestrator replica is killed (no
	// hand-back of the lease) and started again minutes later.
	FaultLeaderKilled = "leader_killed"
	// FaultNATSRestarted: the embedded nats-server stops and starts again
	// on the same port and store.
	FaultNATSRestarted = "nats_restarted"
	// FaultHostOffline: a host's network goes for minutes; its agent keeps
	// running (same boot id) and reconnects.
	FaultHostOffline = "host_offline"
	// FaultHostRebooted: a host is down for minutes and comes back with a
	// new agent process (a new boot id).
	FaultHostRebooted = "host_rebooted"
	// FaultHostReimaged: as FaultHostRebooted, and the host comes back with
	// a changed inventory (an image of the spec gone, a VM not ours added).
	FaultHostReimaged = "host_reimaged"
	// FaultTartError: a host's next tart calls fail.
	FaultTartError = "tart_error"
	// FaultTartHang: a host's `tart list` hangs for minutes at every call,
	// for a while.
	FaultTartHang = "tart_hang"
	// FaultVMDeleted: an image of the spec in force is deleted from a host
	// behind vmfleet's back.
	FaultVMDeleted = "vm_deleted"
	// FaultDiskFull: a host's disk fills up below the cleanup policy's
	// disk emergency threshold, for minutes.
	FaultDiskFull = "disk_full"
	// FaultAgentRestartPull, FaultAgentRestartPrune: a host's agent is
	// restarted in the middle of a pull, of a prune's delete.
	FaultAgentRestartPull  = "agent_restart_pull"
	FaultAgentRestartPrune = "agent_restart_prune"
	// FaultClockSkew: a host's clock runs minutes (real minutes) off, for a
	// while.
	FaultClockSkew = "clock_skew"
)

// trigger says what fires a fault.
type trigger int

const (
	atTime     trigger = iota // at Fault.At after the chaos starts
	nthBuild                  // the Nth build created after the chaos starts
	nthCreate                 // the Nth build create request
	nthWebhook                // the Nth webhook delivered
	nthPull                   // the Nth pull starting
	nthDelete                 // the Nth delete of a prune starting
)

// ChaosKind is one fault kind: its default rate, what fires it and how
// long it lasts.
type ChaosKind struct {
	Name string
	// Rate is how many per hour of fleet time; PerHost: per hour and per
	// 100 hosts. The count in a chaos window is at least 1 unless the
	// rate is 0.
	Rate    float64
	PerHost bool
	// MinFor and MaxFor (fleet time) bound how long one lasts (0: an
	// instant).
	MinFor, MaxFor time.Duration
	// Doc says what it does, for docs and help.
	Doc     string
	trigger trigger
}

// ChaosKinds are every fault kind with its default rate, in schedule order.
func ChaosKinds() []ChaosKind {
	m := time.Minute
	return []ChaosKind{
		{Name: FaultBuildFail, Rate: 1, trigger: nthBuild, Doc: "a build fails; its key is built again"},
		{Name: FaultBuildHang, Rate: 1, MinFor: 10 * m, MaxFor: 20 * m, trigger: nthBuild, Doc: "a build runs 10-20 min longer, then passes"},
		{Name: FaultBuildkite429, Rate: 2, MinFor: m, MaxFor: 4 * m, Doc: "every Buildkite request answered 429, RateLimit-Reset at the storm's end"},
		{Name: FaultBuildkite5xx, Rate: 2, MinFor: m, MaxFor: 3 * m, Doc: "every Buildkite request answered 500, 502 or 503"},
		{Name: FaultCreate500, Rate: 1, trigger: nthCreate, Doc: "a build create carried out, answered 500"},
		{Name: FaultWebhookLost, Rate: 1, trigger: nthWebhook, Doc: "a webhook never arrives"},
		{Name: FaultWebhookDuplicated, Rate: 1, MinFor: m, MaxFor: 3 * m, trigger: nthWebhook, Doc: "a webhook arrives twice, the copy 1-3 min later"},
		{Name: FaultWebhookReordered, Rate: 1, MinFor: m, MaxFor: 3 * m, trigger: nthWebhook, Doc: "a webhook arrives 1-3 min late, after later ones"},
		{Name: FaultLeaderKilled, Rate: 1, MinFor: m, MaxFor: 5 * m, Doc: "the leading orchestrator killed (no lease hand-back), back 1-5 min later"},
		{Name: FaultNATSRestarted, Rate: 1, MinFor: 0, MaxFor: m, Doc: "the nats-server stopped, started again 0-1 min later on the same store"},
		{Name: FaultHostOffline, Rate: 1, PerHost: true, MinFor: 2 * m, MaxFor: 10 * m, Doc: "a host's network gone 2-10 min; same agent, same boot id"},
		{Name: FaultHostRebooted, Rate: 1, PerHost: true, MinFor: 2 * m, MaxFor: 10 * m, Doc: "a host down 2-10 min, back with a new boot id"},
		{Name: FaultHostReimaged, Rate: 1, PerHost: true, MinFor: 2 * m, MaxFor: 10 * m, Doc: "as rebooted, back without an image of the spec and with a VM not ours"},
		{Name: FaultTartError, Rate: 2, PerHost: true, Doc: "a host's next 1-3 tart calls fail"},
		{Name: FaultTartHang, Rate: 1, PerHost: true, MinFor: 3 * m, MaxFor: 8 * m, Doc: "a host's tart list takes 1-2 min at every call for 3-8 min"},
		{Name: FaultVMDeleted, Rate: 2, PerHost: true, Doc: "an image of the spec in force deleted behind vmfleet's back"},
		{Name: FaultDiskFull, Rate: 1, PerHost: true, MinFor: 3 * m, MaxFor: 10 * m, Doc: "a host's disk filled below the disk emergency threshold for 3-10 min"},
		{Name: FaultAgentRestartPull, Rate: 2, trigger: nthPull, Doc: "an agent restarted in the middle of a pull"},
		{Name: FaultAgentRestartPrune, Rate: 2, trigger: nthDelete, Doc: "an agent restarted in the middle of a prune's delete"},
		{Name: FaultClockSkew, Rate: 1, PerHost: true, MinFor: 10 * m, MaxFor: 20 * m, Doc: "a host's clock 2-10 real minutes off for 10-20 min"},
	}
}

// Chaos configures fault injection in a simulated fleet. Faults start with
// the bump and stop Window (fleet time) later, so that healing can be
// measured.
type Chaos struct {
	// On turns chaos on.
	On bool
	// Seed makes the schedule: the same seed, config and rates give the
	// same faults at the same fleet times on the same hosts.
	Seed uint64
	// Rate multiplies every kind's rate (0 or 1: the defaults of
	// ChaosKinds).
	Rate float64
	// Rates sets kinds' rates (per hour of fleet time, per 100 hosts for a
	// per-host kind) before Rate multiplies them; 0 turns a kind off.
	Rates map[string]float64
	// Window is how long after the bump (fleet time) faults start; every
	// fault has ended by its end.
	Window time.Duration
}

// DefaultChaosWindow is Chaos.Window unless set.
const DefaultChaosWindow = time.Hour

// ParseChaosRates reads --chaos-rate: "2" multiplies every rate,
// "host_offline=3,build_fail=0" sets kinds' rates, and both may be mixed
// ("2,vm_deleted=4"). It returns the multiplier (1 when not given) and the
// kinds' rates.
func ParseChaosRates(s string) (float64, map[string]float64, error) {
	mult, rates := 1.0, map[string]float64{}
	kinds := map[string]bool{}
	for _, k := range ChaosKinds() {
		kinds[k.Name] = true
	}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, named := strings.Cut(part, "=")
		if !named {
			val = name
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			return 0, nil, fmt.Errorf("%w: chaos rate %q: want a number of 0 or more", ErrInvalidConfig, part)
		}
		if !named {
			if f == 0 {
				return 0, nil, fmt.Errorf("%w: chaos rate %q: a multiplier must be more than 0 (turn a kind off with KIND=0)", ErrInvalidConfig, part)
			}
			mult = f
			continue
		}
		name = strings.TrimSpace(name)
		if !kinds[name] {
			return 0, nil, fmt.Errorf("%w: chaos rate %q: no fault kind %q (kinds: %s)", ErrInvalidConfig, part, name, strings.Join(slices.Sorted(func(yield func(string) bool) {
				for k := range kinds {
					if !yield(k) {
						return
					}
				}
			}), ", "))
		}
		rates[name] = f
	}
	return mult, rates, nil
}

func (c Chaos) validate() error {
	if !c.On {
		return nil
	}
	if c.Rate < 0 || c.Window < 0 {
		return fmt.Errorf("%w: chaos: rate and window must not be negative", ErrInvalidConfig)
	}
	for _, k := range ChaosKinds() {
		if r, ok := c.Rates[k.Name]; ok && r < 0 {
			return fmt.Errorf("%w: chaos: rate of %s must not be negative", ErrInvalidConfig, k.Name)
		}
	}
	for name := range c.Rates {
		if !slices.ContainsFunc(ChaosKinds(), func(k ChaosKind) bool { return k.Name == name }) {
			return fmt.Errorf("%w: chaos: no fault kind %q", ErrInvalidConfig, name)
		}
	}
	return nil
}

func (c Chaos) window() time.Duration {
	if c.Window > 0 {
		return c.Window
	}
	return DefaultChaosWindow
}

// Fault is one fault of the schedule.
type Fault struct {
	Kind string `json:"kind"`
	// At is when it starts, fleet time after the chaos starts (the bump);
	// a fault fired by an event (Nth) is armed from the start.
	At Seconds `json:"at_s"`
	// For is how long it lasts (fleet time; 0: an instant).
	For Seconds `json:"for_s,omitempty"`
	// Host is the host it strikes ("" for the fleet, or the host of the
	// event that fires it).
	Host string `json:"host,omitempty"`
	// Nth: fired by the Nth build, create, webhook, pull or delete after
	// the chaos starts (0: at At).
	Nth int `json:"nth,omitempty"`
	// Value is the kind's parameter: the HTTP status of a 5xx burst, the
	// clock offset in seconds, the failing tart calls, the minutes a
	// tart list hangs.
	Value int `json:"value,omitempty"`
}

// Schedule is the fault schedule of cfg (empty without chaos): a pure
// function of the seed, the rates, the window and the fleet's size and
// mode, ordered by At then kind. Kinds that do not apply to the fleet
// (SkippedKinds) are left out.
func Schedule(cfg Config) []Fault {
	c := cfg.Chaos
	if !c.On {
		return nil
	}
	win := c.window()
	mult := c.Rate
	if mult == 0 {
		mult = 1
	}
	// Events that fire faults: builds after the bump (one per image in
	// registry mode, per image and host otherwise), three webhooks each,
	// the fleet's pulls and deletes.
	builds := len(cfg.Releases)
	if !cfg.Registry {
		builds *= cfg.Hosts
	}
	perHostOps := cfg.Hosts * len(cfg.Releases)
	usedBuilds, usedHooks := map[int]bool{}, map[int]bool{}
	skipped := SkippedKinds(cfg)
	var out []Fault
	for i, k := range ChaosKinds() {
		if _, skip := skipped[k.Name]; skip {
			continue
		}
		rate, ok := c.Rates[k.Name]
		if !ok {
			rate = k.Rate
		}
		rate *= mult
		if rate == 0 {
			continue
		}
		scale := win.Hours()
		if k.PerHost {
			scale *= float64(cfg.Hosts) / 100
		}
		n := max(1, int(math.Round(rate*scale)))
		rng := rand.New(rand.NewPCG(c.Seed, uint64(i+1)))
		for range n {
			f := Fault{Kind: k.Name}
			if k.MaxFor > 0 {
				f.For = Seconds(k.MinFor + time.Duration(rng.Int64N(int64(k.MaxFor-k.MinFor)+1)).Round(time.Second))
			}
			switch k.trigger {
			case atTime:
				f.At = Seconds(time.Duration(rng.Int64N(int64(max(win-f.For.D(), time.Second)))).Round(time.Second))
			case nthBuild:
				if f.Nth = pickFree(rng, builds, usedBuilds); f.Nth == 0 {
					continue
				}
			case nthCreate:
				f.Nth = 1 + rng.IntN(builds)
			case nthWebhook:
				if f.Nth = pickFree(rng, 3*builds, usedHooks); f.Nth == 0 {
					continue
				}
			case nthPull, nthDelete:
				f.Nth = 1 + rng.IntN(min(perHostOps, 20))
			}
			if k.PerHost && k.trigger == atTime {
				f.Host = hostName(rng.IntN(cfg.Hosts), cfg.Hosts)
			}
			switch k.Name {
			case FaultBuildkite5xx:
				f.Value = []int{500, 502, 503}[rng.IntN(3)]
			case FaultClockSkew:
				f.Value = (120 + rng.IntN(481)) * (1 - 2*rng.IntN(2)) // ±2-10 min
			case FaultTartError:
				f.Value = 1 + rng.IntN(3)
			case FaultTartHang:
				f.Value = 1 + rng.IntN(2)
			}
			out = append(out, f)
		}
	}
	slices.SortStableFunc(out, func(a, b Fault) int {
		if a.At != b.At {
			return cmp.Compare(a.At, b.At)
		}
		return strings.Compare(a.Kind, b.Kind)
	})
	return out
}

// SkippedKinds are the fault kinds that do not apply to cfg's fleet, each
// with why (none without chaos): Schedule leaves them out. In host mode
// (no registry) hosts build their own images and pull nothing, so no
// agent can be restarted in the middle of a pull.
func SkippedKinds(cfg Config) map[string]string {
	if !cfg.Chaos.On || cfg.Registry {
		return nil
	}
	return map[string]string{FaultAgentRestartPull: "host mode: hosts build their own images and pull none"}
}

// pickFree draws a number in 1..n not in used (0 when all are), and marks it.
func pickFree(rng *rand.Rand, n int, used map[int]bool) int {
	if len(used) >= n {
		return 0
	}
	for {
		k := 1 + rng.IntN(n)
		if !used[k] {
			used[k] = true
			return k
		}
	}
}
