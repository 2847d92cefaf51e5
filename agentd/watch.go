package agentd

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watchFiles wakes the check loop on any change of $TART_HOME/vms (a VM
// created, renamed or deleted) and of the forced-state file (set by another
// `vmfleet agent force-*` process). A burst of changes within the settle time
// is one check. Without inotify/kqueue it logs and leaves the timer to cope.
func (a *Agent) watchFiles(ctx context.Context) error {
	vms := filepath.Join(a.cfg.TartHome, "vms")
	w, err := fsnotify.NewWatcher()
	if err != nil {
		a.log.Warn("cannot watch for VM changes; relying on the timer", "err", err)
		return nil
	}
	defer func() { _ = w.Close() }()
	for _, d := range []struct {
		dir  string
		mode os.FileMode
	}{{vms, 0o755}, {a.cfg.StateDir, 0o700}} {
		if err := mkdirAndWatch(w, d.dir, d.mode); err != nil {
			a.log.Warn("cannot watch directory; relying on the timer", "dir", d.dir, "err", err)
		}
	}
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
