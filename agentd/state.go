package agentd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/vmfleet/vmfleet/events"
)

// State file names under Config.StateDir.
const (
	forcedFile = "forced.json"
	lastFile   = "last-check.json"
)

// stateStore keeps the agent's small state files: written 0600, atomically
// (temp file, fsync, rename), so a crash leaves the old or the new file.
// With mem set (WithMemoryState) it keeps them in memory instead and touches
// no file.
type stateStore struct {
	dir string
	mem *memState
}

// memState is the state files' contents kept in memory.
type memState struct {
	mu     sync.Mutex
	forced *events.Forced
	last   *events.HostHealth
}

func (s stateStore) path(name string) string { return filepath.Join(s.dir, name) }

// loadForced returns the forced state on disk, or nil. It does not judge the TTL.
func (s stateStore) loadForced() (*events.Forced, error) {
	if s.mem != nil {
		s.mem.mu.Lock()
		defer s.mem.mu.Unlock()
		if s.mem.forced == nil {
			return nil, nil
		}
		f := *s.mem.forced
		return &f, nil
	}
	var f events.Forced
	ok, err := s.read(forcedFile, &f)
	if err != nil || !ok {
		return nil, err
	}
	if f.State != events.ForcedReady && f.State != events.ForcedNotReady {
		return nil, fmt.Errorf("%w %s: unknown state %q: run `vmfleet agent force-ready --clear`", ErrStateFile, s.path(forcedFile), f.State)
	}
	return &f, nil
}

// saveForced writes f, or removes the file when f is nil.
func (s stateStore) saveForced(f *events.Forced) error {
	if s.mem != nil {
		s.mem.mu.Lock()
		defer s.mem.mu.Unlock()
		s.mem.forced = nil
		if f != nil {
			c := *f
			s.mem.forced = &c
		}
		return nil
	}
	if f == nil {
		err := os.Remove(s.path(forcedFile))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: %v", ErrStateFile, err)
		}
		return nil
	}
	return s.write(forcedFile, f, true)
}

func (s stateStore) loadLast() (*events.HostHealth, error) {
	if s.mem != nil {
		s.mem.mu.Lock()
		defer s.mem.mu.Unlock()
		if s.mem.last == nil {
			return nil, nil
		}
		h := *s.mem.last
		return &h, nil
	}
	var h events.HostHealth
	ok, err := s.read(lastFile, &h)
	if err != nil || !ok {
		return nil, err
	}
	return &h, nil
}

// saveLast records the last check. It skips fsync: losing it in a crash only
// loses what `status` shows as the previous check. In memory it keeps h
// itself: a check's result is never modified once made.
func (s stateStore) saveLast(h events.HostHealth) error {
	if s.mem != nil {
		s.mem.mu.Lock()
		defer s.mem.mu.Unlock()
		s.mem.last = &h
		return nil
	}
	return s.write(lastFile, h, false)
}

func (s stateStore) read(name string, v any) (bool, error) {
	b, err := os.ReadFile(s.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%w: %v", ErrStateFile, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("%w %s: %v", ErrStateFile, s.path(name), err)
	}
	return true, nil
}

func (s stateStore) write(name string, v any, sync bool) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%w: encode %s: %v", ErrStateFile, name, err)
	}
	if err := writeAtomic(s.dir, name, append(b, '\n'), sync); err != nil {
		return fmt.Errorf("%w: %v", ErrStateFile, err)
	}
	return nil
}

// writeAtomic writes data to dir/name with mode 0600 via a temp file and
// rename, syncing the data first when sync is set.
func writeAtomic(dir, name string, data []byte, sync bool) (err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if sync {
		if err = tmp.Sync(); err != nil {
			return err
		}
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, name))
}
