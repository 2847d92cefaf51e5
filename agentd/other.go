//go:build !unix

package agentd

import (
	"context"
	"errors"

	"github.com/vmfleet/vmfleet/events"
)

// HostLock is the host lock; it needs flock, so only unix systems have it.
type HostLock struct{}

// LockHost fails: the host lock needs flock (macOS or Linux).
func LockHost(context.Context, string) (*HostLock, error) {
	return nil, errors.New("host lock: needs flock (macOS or Linux)")
}

// Unlock does nothing.
func (l *HostLock) Unlock() error { return nil }

func diskUsage(string) *events.Disk { return nil }
