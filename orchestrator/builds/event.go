package builds

import (
	"time"

	"github.com/vmfleet/vmfleet/events"
)

// Event is the build event (vmfleet.build.<release>.<state>) that tells of
// the record's state at at; a failed or canceled one says when the key may
// be tried again.
func (r *Record) Event(at time.Time) events.BuildEvent {
	ev := events.BuildEvent{
		Key: r.Key, Image: r.Image, Release: r.Release, Host: r.Host, State: r.State,
		Number: r.Number, URL: r.URL, Attempt: r.Attempt, Error: r.Error, At: at,
	}
	if r.State == events.BuildFailed || r.State == events.BuildCanceled {
		ev.NextAttempt = r.NextAttempt
	}
	return ev
}
