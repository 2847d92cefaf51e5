package rollout

import (
	"sync"

	"github.com/vmfleet/vmfleet/events"
)

// ChangeLog keeps the spec keys' history, as the core follows it, as
// changes (Changes), and announces the changes each new read adds. The zero
// value is ready; it is safe for concurrent use.
type ChangeLog struct {
	mu   sync.Mutex
	read bool
	rev  uint64 // the newest revision of the last read
	ch   []events.SpecHistoryEntry
}

// Note takes a new read of the history (bus.SpecHistory) and calls announce
// (when not nil), oldest first, with each change newer than the last read;
// the first read announces nothing (it is the past, not news).
func (l *ChangeLog) Note(hist []events.SpecRevision, announce func(events.SpecHistoryEntry)) {
	ch := HistoryEntries(hist)
	l.mu.Lock()
	prev, first := l.rev, !l.read
	l.ch, l.read = ch, true
	if len(ch) > 0 {
		l.rev = max(l.rev, ch[0].Revision)
	}
	l.mu.Unlock()
	if first || announce == nil {
		return
	}
	for i := len(ch) - 1; i >= 0; i-- {
		if ch[i].Revision > prev {
			announce(ch[i])
		}
	}
}

// Entries returns the entries of the last read, newest first (nil before
// the first). The slice is shared: callers must not modify it.
func (l *ChangeLog) Entries() []events.SpecHistoryEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ch
}
