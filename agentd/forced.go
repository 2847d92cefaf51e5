package agentd

import (
	"fmt"

	"time"

	"github.com/vmfleet/vmfleet/events"
)

// forcedNow returns the forced state in force at now, or nil. An expired one
// is removed from disk. An unreadable state file is logged and ignored.
func (a *Agent) forcedNow(now time.Time) *events.Forced {
	f, err := a.store.loadForced()
	if err != nil {
		a.log.Warn("ignoring the forced state", "err", err)
		return nil
	}
	if f == nil {
		return nil
	}
	if !f.Active(now) {
		a.log.Info("forced state expired", "state", f.State, "until", f.Until)
		if err := a.store.saveForced(nil); err != nil {
			a.log.Warn("cannot remove the expired forced state", "err", err)
		}
		return nil
	}
	return f
}

// Forced is the forced state in force now, or nil.
func (a *Agent) Forced() (*events.Forced, error) {
	f, err := a.store.loadForced()
	if err != nil || !f.Active(a.now()) {
		return nil, err
	}
	return f, nil
}

// SetForced sets (or, with req.Clear, clears) the forced state and persists
// it in the state dir, where it survives restarts until cleared or until its
// TTL passes. It returns the new state (nil when cleared). It does not check:
// call Check or CheckAndPublish after it.
func (a *Agent) SetForced(req events.ForceRequest) (*events.Forced, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if req.Clear {
		if err := a.store.saveForced(nil); err != nil {
			return nil, err
		}
		a.log.Info("forced state cleared", "by", req.By)
		return nil, nil
	}
	now := a.now()
	f := &events.Forced{State: req.State, SetAt: now.UTC(), SetBy: req.By, Reason: req.Reason}
	if req.TTL > 0 {
		f.Until = now.Add(req.TTL.D()).UTC()
	}
	if err := a.store.saveForced(f); err != nil {
		return nil, fmt.Errorf("save forced state: %w", err)
	}
	a.log.Info("forced state set", "state", f.State, "until", f.Until, "by", f.SetBy, "reason", f.Reason)
	return f, nil
}
