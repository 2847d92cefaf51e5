package hosts

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
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

// Ingest is IngestAt with the event stored when it was seen.
func (f *Fleet) Ingest(subject string, data []byte, seen time.Time) bool {
	return f.IngestAt(subject, data, seen, seen)
}

// IngestAt takes one health message as received on subject at time seen (by
// the orchestrator's clock), stored by NATS at stored (by the server's). It
// reports whether the event was news; rejected events are counted and handed
// to onReject, never a panic; an exact duplicate only refreshes last-seen.
//
// No single event can lock a host out: one checked further ahead of stored
// (or seen, if later) than MaxClockSkew is rejected; a new boot is ordered by its check time capped at
// when it was stored, not by sequence; and once the stored event is stale, the next
// valid one replaces it whatever its sequence (a huge seq within one boot).
func (f *Fleet) IngestAt(subject string, data []byte, seen, stored time.Time) bool {
	return f.ingestAt(subject, data, seen, stored, events.DecodeHealth)
}

// ingestAt is IngestAt decoding with decode: events.DecodeHealthOwned for
// a NATS message's data, which nothing writes again.
func (f *Fleet) ingestAt(subject string, data []byte, seen, stored time.Time, decode func([]byte) (*events.HostHealth, string, error)) bool {
	f.received.Add(1)
	tok := f.subjectHost(subject)
	h, source, err := decode(data)
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
	if ahead := h.CheckedAt.Sub(stored); ahead > f.cfg.MaxClockSkew {
		return f.reject(rejectClockSkew, source, errClockSkew(h, ahead, f.cfg.MaxClockSkew))
	}
	if n := h.DemoteUnknownReasons(); n > 0 {
		f.unknownReasons.Add(uint64(n))
	}
	sh := f.shard(tok)
	sh.mu.Lock()
	if old := sh.hosts[tok]; old != nil && !newer(h, stored, old) && !f.Stale(old, seen) {
		if h.BootID == old.Health.BootID && h.Seq == old.Health.Seq {
			// The same event again (a republish after a reconnect, a
			// replay): proof of life, not news.
			if seen.After(old.LastSeen) {
				sh.hosts[tok] = &State{Health: old.Health, LastSeen: seen, checked: old.checked}
			}
			sh.mu.Unlock()
			f.duplicates.Add(1)
			return false
		}
		sh.mu.Unlock()
		return f.reject(rejectStaleSeq, source, errStaleSeq(h, old.Health))
	}
	sh.hosts[tok] = &State{Health: h, LastSeen: seen, checked: checkedBy(h.CheckedAt, stored)}
	sh.mu.Unlock()
	f.markDirty(tok)
	return true
}

func (f *Fleet) reject(r rejectReason, source string, err error) bool {
	f.rejected[r].Add(1)
	f.onReject(r, source, err)
	return false
}

// subjectHost is the host token of <prefix>.host.<host>.health, or "".
func (f *Fleet) subjectHost(subject string) string {
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
func newer(h *events.HostHealth, stored time.Time, old *State) bool {
	if h.BootID == old.Health.BootID {
		return h.Seq > old.Health.Seq
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

// register puts the ingest metrics on reg and has every rejection counted
// by reason and logged once per source per minute.
func (f *Fleet) register(reg prometheus.Registerer) error {
	const ns, sub = "vmfleet", "orchestrator"
	count := func(n func() uint64) func() float64 { return func() float64 { return float64(n()) } }
	rejected := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
		Name: "events_rejected_total", Help: "Health events dropped, by reason (decode, validate, host_mismatch, stale_seq, oversized, clock_skew)."}, []string{"reason"})
	for _, c := range []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "events_received_total", Help: "Health events received."}, count(f.received.Load)),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "events_duplicate_total", Help: "Health events received again (same boot and sequence): last-seen refreshed."}, count(f.duplicates.Load)),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "unknown_reasons_total", Help: "Release statuses in health events with a readiness reason this orchestrator does not know (a newer agent's), taken as not ready."}, count(f.unknownReasons.Load)),
		rejected,
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	var by [numRejectReasons]prometheus.Counter
	for r := range numRejectReasons {
		by[r] = rejected.WithLabelValues(r.String())
	}
	f.onReject = func(r rejectReason, source string, err error) {
		by[r].Inc()
		if f.rejectLog.Allow(source, f.deps.Now()) {
			f.deps.Log.Warn("health event rejected", "reason", r.String(), "source", source, "err", err)
		}
	}
	return nil
}
