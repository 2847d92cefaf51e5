package tarttest

import (
	"testing"

	"github.com/vmfleet/vmfleet/events"
)

// State is the state directory of a fake tart executable, for seeding VMs,
// injecting faults and inspecting what tart was asked, from a test.
type State struct {
	t   testing.TB
	st  store
	ver string
}

// NewState prepares a state directory (a new temporary one when dir is "")
// imitating tart version (DefaultVersion when ""). Point the executable at it
// with Env, e.g. tart.New(tart.WithPath(BuildExecutable(t)), tart.WithEnv(st.Env()...)).
func NewState(t testing.TB, dir, version string) *State {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	if version == "" {
		version = DefaultVersion
	}
	s := &State{t: t, st: store{dir: dir}, ver: version}
	if err := s.st.init(); err != nil {
		t.Fatalf("faketart state: %v", err)
	}
	if err := s.st.setVersion(version); err != nil {
		t.Fatalf("faketart state: %v", err)
	}
	return s
}

// Dir returns the state directory.
func (s *State) Dir() string { return s.st.dir }

// Version returns the imitated tart version.
func (s *State) Version() string { return s.ver }

// Env returns the environment entries that point the executable at this
// state directory and version.
func (s *State) Env() []string {
	return []string{EnvState + "=" + s.st.dir, EnvVersion + "=" + s.ver}
}

// Add puts VMs in the inventory, replacing same-named ones. Source defaults
// to local, State to stopped; CPU, memory and OS get typical values.
func (s *State) Add(vms ...events.VM) {
	s.t.Helper()
	for _, v := range vms {
		if v.Source == "" {
			v.Source = "local"
		}
		if v.State == "" {
			v.State = events.VMStopped
		}
		r := record{Name: v.Name, Source: v.Source, State: v.State, DiskGB: v.DiskGB, SizeGB: v.SizeGB,
			Accessed: v.Accessed.UTC(), CPU: 4, MemoryMB: 8192, OS: "darwin"}
		if err := s.st.put(r); err != nil {
			s.t.Fatalf("faketart add %q: %v", v.Name, err)
		}
	}
}

// SetState sets a VM's state (running, stopped, suspended); it fails the
// test if the VM does not exist.
func (s *State) SetState(name, state string) {
	s.t.Helper()
	r, ok, err := s.st.get(name)
	if err != nil || !ok {
		s.t.Fatalf("faketart set state of %q: exists=%v, %v", name, ok, err)
	}
	r.State = state
	if err := s.st.put(r); err != nil {
		s.t.Fatalf("faketart set state of %q: %v", name, err)
	}
}

// Remove deletes a VM behind tart's back (e.g. another process).
func (s *State) Remove(name string) {
	s.t.Helper()
	if err := s.st.remove(name); err != nil {
		s.t.Fatalf("faketart remove %q: %v", name, err)
	}
}

// VMs returns the inventory as tart orders it (local, then OCI, by name).
func (s *State) VMs() []events.VM {
	s.t.Helper()
	recs, err := s.st.all()
	if err != nil {
		s.t.Fatalf("faketart inventory: %v", err)
	}
	out := make([]events.VM, len(recs))
	for i, r := range recs {
		out[i] = events.VM{Name: r.Name, Source: r.Source, State: r.State, DiskGB: r.DiskGB, SizeGB: r.SizeGB, Accessed: r.Accessed}
	}
	return out
}

// Names returns the names of all VMs as tart orders them.
func (s *State) Names() []string {
	vms := s.VMs()
	names := make([]string, len(vms))
	for i, v := range vms {
		names[i] = v.Name
	}
	return names
}

// Has reports whether a VM exists.
func (s *State) Has(name string) bool {
	s.t.Helper()
	_, ok, err := s.st.get(name)
	if err != nil {
		s.t.Fatalf("faketart has %q: %v", name, err)
	}
	return ok
}

// Fail makes every later invocation of ops exit 1 with an error (no ops: clear).
func (s *State) Fail(ops ...Op) { s.setFaults(faultFail, ops) }

// Hang makes every later invocation of ops sleep until killed (no ops: clear).
func (s *State) Hang(ops ...Op) { s.setFaults(faultHang, ops) }

// Garbage makes every later invocation of ops print non-JSON and exit 0
// (no ops: clear).
func (s *State) Garbage(ops ...Op) { s.setFaults(faultGarbage, ops) }

func (s *State) setFaults(kind string, ops []Op) {
	s.t.Helper()
	names := make([]string, len(ops))
	for i, o := range ops {
		names[i] = string(o)
	}
	if err := s.st.setFaults(kind, names); err != nil {
		s.t.Fatalf("faketart faults: %v", err)
	}
}

// Calls returns the argument lists of every invocation so far, in order.
func (s *State) Calls() [][]string {
	s.t.Helper()
	calls, err := s.st.calls()
	if err != nil {
		s.t.Fatalf("faketart calls: %v", err)
	}
	return calls
}

// CallCount returns how many invocations ran op.
func (s *State) CallCount(op Op) int {
	n := 0
	for _, c := range s.Calls() {
		if opOf(c) == op {
			n++
		}
	}
	return n
}
