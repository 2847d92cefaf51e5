//go:build unix

package agentd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// HostLock is the exclusive host lock: an flock on $TART_HOME/.vmfleet.lock,
// held by publish-image, pull and prune so that no two of them change the VM
// set at once, across processes. The kernel drops it if the process dies.
type HostLock struct{ f *os.File }

// LockHost takes the host lock under tartHome, waiting for it until ctx ends.
func LockHost(ctx context.Context, tartHome string) (*HostLock, error) {
	if err := os.MkdirAll(tartHome, 0o755); err != nil {
		return nil, fmt.Errorf("host lock: %w", err)
	}
	p := filepath.Join(tartHome, LockFile)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("host lock: %w", err)
	}
	wait := 10 * time.Millisecond
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return &HostLock{f: f}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("host lock %s: %w", p, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			_ = f.Close()
			return nil, fmt.Errorf("%s: %w: %w", p, ErrLockBusy, context.Cause(ctx))
		case <-t.C:
		}
		wait = min(wait*2, 250*time.Millisecond)
	}
}

// Unlock releases the lock. It is safe to call on a nil lock and more than once.
func (l *HostLock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}
