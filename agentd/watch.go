package agentd

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// fileWatch is the fsnotify watcher of $TART_HOME/vms and the state dir; a
// nil *fileWatch (no inotify/kqueue) watches nothing.
type fileWatch struct{ w *fsnotify.Watcher }

// newWatcher watches $TART_HOME/vms (a VM created, renamed or deleted) and
// the state dir (the forced state set by another `vmfleet agent force-*`
// process), creating them if needed. On failure it logs and returns nil: the
// timer still catches changes.
func (a *Agent) newWatcher() *fileWatch {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		a.log.Warn("cannot watch for VM changes; relying on the timer", "err", err)
		return nil
	}
	for _, d := range []struct {
		dir  string
		mode os.FileMode
	}{{filepath.Join(a.cfg.TartHome, "vms"), 0o755}, {a.cfg.StateDir, 0o700}} {
		if err := mkdirAndWatch(w, d.dir, d.mode); err != nil {
			a.log.Warn("cannot watch directory; relying on the timer", "dir", d.dir, "err", err)
		}
	}
	return &fileWatch{w: w}
}

func (fw *fileWatch) close() error {
	if fw == nil {
		return nil
	}
	return fw.w.Close()
}

// watchFiles wakes the check loop on every relevant change; a burst of
// changes within the settle time is one check.
func (a *Agent) watchFiles(ctx context.Context, fw *fileWatch) error {
	if fw == nil {
		return nil
	}
	defer func() { _ = fw.close() }()
	w := fw.w
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if filepath.Dir(ev.Name) == filepath.Clean(a.cfg.StateDir) && filepath.Base(ev.Name) != forcedFile {
				continue
			}
			a.log.Debug("file change", "path", ev.Name, "op", ev.Op.String())
			a.settleEvents(ctx, w)
			a.trigger()
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			a.log.Warn("file watch error", "err", err)
		}
	}
}

// settleEvents swallows further events for the settle time, so that tart's
// burst of changes while creating a VM becomes one check.
func (a *Agent) settleEvents(ctx context.Context, w *fsnotify.Watcher) {
	if a.settle <= 0 {
		return
	}
	t := time.NewTimer(a.settle)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			return
		case _, ok := <-w.Events:
			if !ok {
				return
			}
		}
	}
}

func mkdirAndWatch(w *fsnotify.Watcher, dir string, mode os.FileMode) error {
	if err := os.MkdirAll(dir, mode); err != nil {
		return err
	}
	return w.Add(dir)
}
