package orchestrator

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmfleet/vmfleet/events"
)

// rejectReason says why a health event was dropped.
type rejectReason int

const (
	rejectDecode rejectReason = iota
	rejectValidate
	rejectHostMismatch
	rejectStaleSeq
	rejectOversized
	rejectClockSkew
	numRejectReasons
)

var rejectNames = [numRejectReasons]string{"decode", "validate", "host_mismatch", "stale_seq", "oversized", "clock_skew"}

func (r rejectReason) String() string { return rejectNames[r] }

// hostState is one host's latest accepted health. It is never changed once
// stored: ingest replaces the pointer, so readers need no lock after loading it.
type hostState struct {
	h        *events.HostHealth
	lastSeen time.Time
	// checked is h.CheckedAt, capped at when NATS stored the event: what a
	// later boot's check is ordered against.
	checked time.Time
}

const numShards = 32

type fleetShard struct {
	mu    sync.RWMutex
	hosts map[string]*hostState
	_     [32]byte // keep shards' locks off one cache line
}

// fleet is the hosts' state. Ingest is the fast path: decode, compare, store,
// mark dirty. Everything else happens in the reconcile pass.
type fleet struct {
	healthPrefix string // "<prefix>.host."
	staleN       time.Duration
	defaultHB    time.Duration
	// maxSkew is how far ahead of the time NATS stored it (and of the time
	// it was seen) an event's checked_at may be; further ahead, it is
	// rejected (clock_skew).
	maxSkew time.Duration
	shards  [numShards]fleetShard

	dirtyMu sync.Mutex
	dirty   map[string]struct{}
	wake    chan struct{} // capacity 1

	received   atomic.Uint64
	duplicates atomic.Uint64
	// unknownReasons counts release statuses with a reason this version
	// does not know (a newer agent's), taken as not ready.
	unknownReasons atomic.Uint64
	rejected       [numRejectReasons]atomic.Uint64
	// onReject is called for every rejected event (metrics, rate-limited log).
	onReject func(reason rejectReason, source string, err error)
}

func newFleet(subj events.Subjects, staleHeartbeats int, defaultHB time.Duration) *fleet {
	f := &fleet{
		healthPrefix: subj.Prefix + ".host.",
		staleN:       time.Duration(staleHeartbeats),
		defaultHB:    defaultHB,
		maxSkew:      DefaultConfig().MaxClockSkew,
		dirty:        map[string]struct{}{},
		wake:         make(chan struct{}, 1),
		onReject:     func(rejectReason, string, error) {},
	}
	for i := range f.shards {
		f.shards[i].hosts = map[string]*hostState{}
	}
	return f
}

func (f *fleet) shard(host string) *fleetShard { return &f.shards[fnv32(host)%numShards] }

// fnv32 is the FNV-1a hash of s: the fleet's shard of a host, the ingest
// worker of a subject.
func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}

// ingest is ingestAt with the event stored when it was seen.
func (f *fleet) ingest(subject string, data []byte, seen time.Time) bool {
	return f.ingestAt(subject, data, seen, seen)
}

// ingestAt takes one health message as received on subject at time seen (by
// the orchestrator's clock), stored by NATS at stored (by the server's). It
// reports whether the event was news; rejected events are counted and handed
// to onReject, never a panic; an exact duplicate only refreshes last-seen.
//
// No single event can lock a host out: one checked further ahead of stored
// (or seen, if later) than maxSkew is rejected; a new boot is ordered by its check time capped at
// when it was stored, not by sequence; and once the stored event is stale, the next
// valid one replaces it whatever its sequence (a huge seq within one boot).
func (f *fleet) ingestAt(subject string, data []byte, seen, stored time.Time) bool {
	f.received.Add(1)
	tok := f.subjectHost(subject)
	h, source, err := events.DecodeHealth(data)
	if source == "" {
		source = tok
	}
	if err != nil {
		return f.reject(classify(err), source, err)
	}
	if tok == "" || h.Host != tok {
		return f.reject(rejectHostMismatch, source, errHostMismatch(h.Host, subject))
	}
	// Ahead of both clocks: a skew between the orchestrator's and the
	// server's must not refuse honest hosts.
	if seen.After(stored) {
		stored = seen
	}
	if ahead := h.CheckedAt.Sub(stored); ahead > f.maxSkew {
		return f.reject(rejectClockSkew, source, errClockSkew(h, ahead, f.maxSkew))
	}
	if n := h.DemoteUnknownReasons(); n > 0 {
		f.unknownReasons.Add(uint64(n))
	}
	sh := f.shard(tok)
	sh.mu.Lock()
	if old := sh.hosts[tok]; old != nil && !newer(h, stored, old) && !f.stale(old, seen) {
		if h.BootID == old.h.BootID && h.Seq == old.h.Seq {
			// The same event again (a republish after a reconnect, a
			// replay): proof of life, not news.
			if seen.After(old.lastSeen) {
				sh.hosts[tok] = &hostState{h: old.h, lastSeen: seen, checked: old.checked}
			}
			sh.mu.Unlock()
			f.duplicates.Add(1)
			return false
		}
		sh.mu.Unlock()
		return f.reject(rejectStaleSeq, source, errStaleSeq(h, old.h))
	}
	sh.hosts[tok] = &hostState{h: h, lastSeen: seen, checked: checkedBy(h.CheckedAt, stored)}
	sh.mu.Unlock()
	f.markDirty(tok)
	return true
}

func (f *fleet) reject(r rejectReason, source string, err error) bool {
	f.rejected[r].Add(1)
	f.onReject(r, source, err)
	return false
}

// subjectHost is the host token of <prefix>.host.<host>.health, or "".
func (f *fleet) subjectHost(subject string) string {
	rest, ok := strings.CutPrefix(subject, f.healthPrefix)
	if !ok {
		return ""
	}
	tok, ok := strings.CutSuffix(rest, ".health")
	if !ok || strings.IndexByte(tok, '.') >= 0 {
		return ""
	}
	return tok
}

// newer reports whether h, stored by NATS at stored, supersedes old: a
// higher sequence number within one boot; across boots, a check no older than
// the stored one, each check time capped at when NATS stored it (so a stored
// event dated ahead, within the skew allowed, does not hold back a new boot).
func newer(h *events.HostHealth, stored time.Time, old *hostState) bool {
	if h.BootID == old.h.BootID {
		return h.Seq > old.h.Seq
	}
	return !checkedBy(h.CheckedAt, stored).Before(old.checked)
}

// checkedBy is a check time no later than the event was stored.
func checkedBy(checked, stored time.Time) time.Time {
	if checked.After(stored) {
		return stored
	}
	return checked
}

func (f *fleet) markDirty(host string) {
	f.dirtyMu.Lock()
	f.dirty[host] = struct{}{}
	f.dirtyMu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// takeDirty returns the hosts marked dirty since the last call.
func (f *fleet) takeDirty() []string {
	f.dirtyMu.Lock()
	defer f.dirtyMu.Unlock()
	if len(f.dirty) == 0 {
		return nil
	}
	out := make([]string, 0, len(f.dirty))
	for h := range f.dirty {
		out = append(out, h)
	}
	clear(f.dirty)
	return out
}

// get returns a host's state, or nil.
func (f *fleet) get(host string) *hostState {
	sh := f.shard(host)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return sh.hosts[host]
}

// HostSeq returns the sequence number and boot id of a host's latest
// accepted health event: a lock and a map lookup, cheap enough to poll (the
// ingest benchmark does, to time events into the state), unlike Host, which
// builds the host's whole view and prune plan.
func (o *Orchestrator) HostSeq(host string) (seq uint64, bootID string, ok bool) {
	hs := o.fleet.get(host)
	if hs == nil {
		return 0, "", false
	}
	return hs.h.Seq, hs.h.BootID, true
}

// each calls fn for every host, one shard at a time under its read lock; fn
// must be quick and must not call back into the fleet.
func (f *fleet) each(fn func(host string, hs *hostState)) {
	for i := range f.shards {
		sh := &f.shards[i]
		sh.mu.RLock()
		for k, hs := range sh.hosts {
			fn(k, hs)
		}
		sh.mu.RUnlock()
	}
}

// len is the number of known hosts.
func (f *fleet) len() int {
	n := 0
	for i := range f.shards {
		f.shards[i].mu.RLock()
		n += len(f.shards[i].hosts)
		f.shards[i].mu.RUnlock()
	}
	return n
}

// staleAt is when a host becomes stale: StaleHeartbeats of its heartbeat
// after it was last seen.
func (f *fleet) staleAt(hs *hostState) time.Time {
	hb := f.defaultHB
	if hs.h.HeartbeatSeconds > 0 {
		hb = time.Duration(hs.h.HeartbeatSeconds) * time.Second
	}
	return hs.lastSeen.Add(hb * f.staleN)
}

func (f *fleet) stale(hs *hostState, now time.Time) bool { return !now.Before(f.staleAt(hs)) }

// classify maps a decode error to a reject reason.
func classify(err error) rejectReason {
	if errors.Is(err, events.ErrTooLarge) {
		return rejectOversized
	}
	if errors.Is(err, events.ErrHostMismatch) {
		return rejectHostMismatch
	}
	var fe *events.FieldError
	if errors.As(err, &fe) && (fe.Field == "envelope" || (fe.Field == "data" && fe.Reason != "missing")) {
		return rejectDecode
	}
	return rejectValidate
}

func errHostMismatch(payload, subject string) error {
	return fmt.Errorf("payload host %q does not match subject %q", payload, subject)
}

func errClockSkew(h *events.HostHealth, ahead, allowed time.Duration) error {
	return fmt.Errorf("checked_at %s is %s ahead of the time NATS stored it and of the orchestrator's clock (hosts.max_clock_skew %s): fix the host's clock (NTP)",
		h.CheckedAt.Format(time.RFC3339), ahead.Round(time.Second), allowed)
}

func errStaleSeq(h, old *events.HostHealth) error {
	if h.BootID == old.BootID {
		return fmt.Errorf("sequence %d is not after %d in boot %q", h.Seq, old.Seq, h.BootID)
	}
	return fmt.Errorf("boot %q checked at %s, before boot %q's last check", h.BootID, h.CheckedAt, old.BootID)
}
