package tarttest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Environment variables of the fake tart executable.
const (
	// EnvState is the state directory (required).
	EnvState = "FAKETART_STATE"
	// EnvVersion is the tart version to imitate (else the state directory's
	// version file, else DefaultVersion).
	EnvVersion = "FAKETART_VERSION"
	// EnvFail, EnvHang and EnvGarbage are comma-separated operations (list,
	// get, delete, rename, clone, pull, version) that exit 1 with an error,
	// sleep until killed, or print non-JSON and exit 0.
	EnvFail    = "FAKETART_FAIL"
	EnvHang    = "FAKETART_HANG"
	EnvGarbage = "FAKETART_GARBAGE"
	// EnvHangChild, when set, makes a hanging fake first start a hanging
	// child that holds its stdout open, as a helper process of tart's might.
	EnvHangChild = "FAKETART_HANG_CHILD"
	// envChild marks that child: it records no call.
	envChild = "FAKETART_CHILD"
)

// Fault kinds, as file names in the state directory and as env suffixes.
const (
	faultFail    = "fail"
	faultHang    = "hang"
	faultGarbage = "garbage"
)

// record is one VM in the state directory, one JSON file per VM so that
// sequential and concurrent calls on different VMs never lose an update.
type record struct {
	Name     string    `json:"name"`
	Source   string    `json:"source"`
	State    string    `json:"state"`
	DiskGB   int       `json:"disk_gb"`
	SizeGB   int       `json:"size_gb"`
	Accessed time.Time `json:"accessed,omitzero"`
	CPU      int       `json:"cpu"`
	MemoryMB int       `json:"memory_mb"`
	OS       string    `json:"os"`
}

// store is the state directory: vms/<escaped name>.json, version, calls.jsonl
// and fault-<kind> files.
type store struct{ dir string }

func (s store) vmsDir() string { return filepath.Join(s.dir, "vms") }

func (s store) vmPath(name string) string {
	return filepath.Join(s.vmsDir(), url.PathEscape(name)+".json")
}

func (s store) init() error { return os.MkdirAll(s.vmsDir(), 0o755) }

// get returns the VM, or ok false when it does not exist.
func (s store) get(name string) (record, bool, error) {
	b, err := os.ReadFile(s.vmPath(name))
	if errors.Is(err, fs.ErrNotExist) {
		return record{}, false, nil
	}
	if err != nil {
		return record{}, false, err
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return record{}, false, fmt.Errorf("state file of %q: %w", name, err)
	}
	return r, true, nil
}

// put writes the VM atomically (temp file and rename).
func (s store) put(r record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return writeAtomic(s.vmPath(r.Name), b)
}

func (s store) remove(name string) error {
	err := os.Remove(s.vmPath(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// all returns every VM, local ones first, each group sorted by name, as tart
// lists them.
func (s store) all() ([]record, error) {
	entries, err := os.ReadDir(s.vmsDir())
	if err != nil {
		return nil, err
	}
	out := make([]record, 0, len(entries))
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		name, err := url.PathUnescape(strings.TrimSuffix(e.Name(), ".json"))
		if err != nil {
			continue
		}
		r, ok, err := s.get(name)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b record) int {
		if (a.Source == "local") != (b.Source == "local") {
			if a.Source == "local" {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

func (s store) version() string {
	b, err := os.ReadFile(filepath.Join(s.dir, "version"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func (s store) setVersion(v string) error {
	return writeAtomic(filepath.Join(s.dir, "version"), []byte(v+"\n"))
}

// faults returns the operations set for a fault kind in the state directory.
func (s store) faults(kind string) []string {
	b, err := os.ReadFile(filepath.Join(s.dir, "fault-"+kind))
	if err != nil {
		return nil
	}
	return splitList(string(b))
}

func (s store) setFaults(kind string, ops []string) error {
	return writeAtomic(filepath.Join(s.dir, "fault-"+kind), []byte(strings.Join(ops, ",")))
}

// recordCall appends the invocation's arguments to calls.jsonl.
func (s store) recordCall(args []string) error {
	b, err := json.Marshal(args)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(s.dir, "calls.jsonl"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	return errors.Join(err, f.Close())
}

func (s store) calls() ([][]string, error) {
	f, err := os.Open(filepath.Join(s.dir, "calls.jsonl"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var args []string
		if err := json.Unmarshal(sc.Bytes(), &args); err != nil {
			return nil, err
		}
		out = append(out, args)
	}
	return out, sc.Err()
}

func writeAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	_, werr := f.Write(b)
	if err := errors.Join(werr, f.Close()); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), path)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
