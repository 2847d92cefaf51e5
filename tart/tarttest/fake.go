package tarttest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/tart"
)

// Op names a tart operation, for fault injection, delays and call counts.
type Op string

// Operations of Fake.
const (
	OpList    Op = "list"
	OpGet     Op = "get"
	OpDelete  Op = "delete"
	OpRename  Op = "rename"
	OpClone   Op = "clone"
	OpPull    Op = "pull"
	OpVersion Op = "version"
)

// Fake is an in-memory tart. It is safe for concurrent use. Its methods fail
// like real tart does (ErrNotFound, ErrRunning, ErrExists wrapped in *tart.Error).
type Fake struct {
	mu      sync.Mutex
	vms     map[string]events.VM
	version string
	errs    map[Op][]error
	delays  map[Op]time.Duration
	calls   map[Op]int
	// OnChange, if set, is called (without the lock held) after any change to the VM set.
	OnChange func()
}

// NewFake returns an empty fake reporting the given tart version ("2.35.0" if empty).
func NewFake(version string) *Fake {
	if version == "" {
		version = "2.35.0"
	}
	return &Fake{vms: map[string]events.VM{}, version: version, errs: map[Op][]error{}, delays: map[Op]time.Duration{}, calls: map[Op]int{}}
}

// Add puts VMs in the inventory (replacing same-named ones). Source defaults to
// local and State to stopped.
func (f *Fake) Add(vms ...events.VM) {
	f.mu.Lock()
	for _, v := range vms {
		if v.Source == "" {
			v.Source = "local"
		}
		if v.State == "" {
			v.State = events.VMStopped
		}
		f.vms[v.Name] = v
	}
	f.mu.Unlock()
	f.changed()
}

// SetState sets a VM's state (running, stopped, suspended).
func (f *Fake) SetState(name, state string) {
	f.mu.Lock()
	v, ok := f.vms[name]
	if ok {
		v.State = state
		f.vms[name] = v
	}
	f.mu.Unlock()
	if ok {
		f.changed()
	}
}

// Names returns the names of all VMs, sorted.
func (f *Fake) Names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	names := make([]string, 0, len(f.vms))
	for n := range f.vms {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Has reports whether a VM with the name exists.
func (f *Fake) Has(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.vms[name]
	return ok
}

// FailNext makes the next calls of op return errs, one per call, in order.
func (f *Fake) FailNext(op Op, errs ...error) {
	f.mu.Lock()
	f.errs[op] = append(f.errs[op], errs...)
	f.mu.Unlock()
}

// SetDelay makes every call of op take d (or until its context ends).
func (f *Fake) SetDelay(op Op, d time.Duration) {
	f.mu.Lock()
	f.delays[op] = d
	f.mu.Unlock()
}

// Calls returns how many times op was called.
func (f *Fake) Calls(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

func (f *Fake) changed() {
	if f.OnChange != nil {
		f.OnChange()
	}
}

// begin counts the call, applies the delay and returns an injected error.
func (f *Fake) begin(ctx context.Context, op Op, args ...string) error {
	f.mu.Lock()
	f.calls[op]++
	d := f.delays[op]
	var injected error
	if q := f.errs[op]; len(q) > 0 {
		injected, f.errs[op] = q[0], q[1:]
	}
	f.mu.Unlock()
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return &tart.Error{Args: append([]string{string(op)}, args...), Kind: tart.ErrTimeout, Err: ctx.Err()}
		case <-t.C:
		}
	}
	if err := ctx.Err(); err != nil {
		return &tart.Error{Args: append([]string{string(op)}, args...), Kind: tart.ErrTimeout, Err: err}
	}
	return injected
}

func opErr(kind error, op Op, args ...string) error {
	code := 1
	if kind == tart.ErrNotFound {
		code = 2
	}
	return &tart.Error{Args: append([]string{string(op)}, args...), ExitCode: code, Kind: kind}
}

// List returns the inventory sorted by source then name, as tart does.
func (f *Fake) List(ctx context.Context) ([]events.VM, error) {
	if err := f.begin(ctx, OpList); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]events.VM, 0, len(f.vms))
	for _, v := range f.vms {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b events.VM) int {
		if c := strings.Compare(a.Source, b.Source); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

// Get describes one VM.
func (f *Fake) Get(ctx context.Context, name string) (tart.Info, error) {
	if err := f.begin(ctx, OpGet, name); err != nil {
		return tart.Info{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.vms[name]
	if !ok {
		return tart.Info{}, opErr(tart.ErrNotFound, OpGet, name)
	}
	return tart.Info{CPU: 4, Memory: 8192, DiskGB: v.DiskGB, SizeGB: v.SizeGB, State: v.State, OS: "darwin", Accessed: v.Accessed}, nil
}

// Delete removes a stopped VM.
func (f *Fake) Delete(ctx context.Context, name string) error {
	if err := f.begin(ctx, OpDelete, name); err != nil {
		return err
	}
	f.mu.Lock()
	v, ok := f.vms[name]
	switch {
	case !ok:
		f.mu.Unlock()
		return opErr(tart.ErrNotFound, OpDelete, name)
	case v.State == events.VMRunning:
		f.mu.Unlock()
		return opErr(tart.ErrRunning, OpDelete, name)
	}
	delete(f.vms, name)
	f.mu.Unlock()
	f.changed()
	return nil
}

// Rename renames a local VM.
func (f *Fake) Rename(ctx context.Context, from, to string) error {
	if err := f.begin(ctx, OpRename, from, to); err != nil {
		return err
	}
	f.mu.Lock()
	v, ok := f.vms[from]
	_, taken := f.vms[to]
	switch {
	case !ok || v.Source != "local":
		f.mu.Unlock()
		return opErr(tart.ErrNotFound, OpRename, from, to)
	case taken:
		f.mu.Unlock()
		return opErr(tart.ErrExists, OpRename, from, to)
	}
	delete(f.vms, from)
	v.Name = to
	f.vms[to] = v
	f.mu.Unlock()
	f.changed()
	return nil
}

// Clone copies src (a local VM, or an OCI reference, pulled first) to a new local VM dst.
func (f *Fake) Clone(ctx context.Context, src, dst string) error {
	if err := f.begin(ctx, OpClone, src, dst); err != nil {
		return err
	}
	f.mu.Lock()
	v, ok := f.vms[src]
	if !ok && strings.Contains(src, "/") {
		v, ok = events.VM{Name: src, Source: "oci", State: events.VMStopped, DiskGB: 50, SizeGB: 20}, true
		f.vms[src] = v
	}
	if _, taken := f.vms[dst]; taken {
		f.mu.Unlock()
		return opErr(tart.ErrExists, OpClone, src, dst)
	}
	if !ok {
		f.mu.Unlock()
		return opErr(tart.ErrNotFound, OpClone, src, dst)
	}
	f.vms[dst] = events.VM{Name: dst, Source: "local", State: events.VMStopped, DiskGB: v.DiskGB, SizeGB: v.SizeGB}
	f.mu.Unlock()
	f.changed()
	return nil
}

// Pull fetches an OCI image into the cache.
func (f *Fake) Pull(ctx context.Context, ref string) error {
	if err := f.begin(ctx, OpPull, ref); err != nil {
		return err
	}
	f.mu.Lock()
	f.vms[ref] = events.VM{Name: ref, Source: "oci", State: events.VMStopped, DiskGB: 50, SizeGB: 20}
	f.mu.Unlock()
	f.changed()
	return nil
}

// Version returns the configured tart version.
func (f *Fake) Version(ctx context.Context) (string, error) {
	if err := f.begin(ctx, OpVersion); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.version, nil
}

// String describes the fake for test logs.
func (f *Fake) String() string { return fmt.Sprintf("tarttest.Fake(%d VMs)", len(f.Names())) }
