package tart

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/vmfleet/vmfleet/events"
)

// listEntry is one element of `tart list --format json`, the union of the
// fields every tart version printed (see testdata/README.md). A missing (or
// null, or empty) field reads as absent; unknown fields are ignored.
type listEntry struct {
	Source string `json:"Source"`
	Name   string `json:"Name"`
	// Disk is the disk image's logical size (GB), tart 2.7+.
	Disk number `json:"Disk"`
	// Size is the space the VM takes on disk (GB): the disk's size before
	// tart 2.7, its allocated size since.
	Size number `json:"Size"`
	// SizeOnDisk is the deduplicated size (GB), tart 2.15–2.30.
	SizeOnDisk number `json:"SizeOnDisk"`
	// Accessed is an ISO-8601 time, tart 2.31+.
	Accessed string  `json:"Accessed"`
	Running  optBool `json:"Running"`
	State    string  `json:"State"`
}

// ParseList parses the output of `tart list --format json` of any tart
// version into VMs, in tart's order. Empty output and `[]` give an empty list.
//
// Normalisation: Source is lower-cased ("OCI" → "oci"), and inferred from the
// name when absent; State is running, stopped or suspended, derived from
// Running when State is absent, "" when tart said neither (or something
// unknown while not running) — callers must treat "" as possibly busy;
// SizeGB is Size, or SizeOnDisk when Size is absent; an unparseable Accessed
// is left zero (it is advisory). Every OCI image appears twice, by tag and by
// digest (NAME@sha256:…); both are kept, with Source "oci" (see IsDigestRef).
//
// Any other deviation — not a JSON array, an entry without a name, a field of
// the wrong type, a negative size — fails the whole list: a partial inventory
// must not drive cleanup.
func ParseList(out []byte) ([]events.VM, error) {
	trimmed := bytes.TrimSpace(out)
	if len(trimmed) == 0 {
		return []events.VM{}, nil
	}
	if trimmed[0] != '[' {
		return nil, fmt.Errorf("tart list: want a JSON array, got %q", head(trimmed))
	}
	var entries []listEntry
	if err := json.Unmarshal(trimmed, &entries); err != nil {
		return nil, fmt.Errorf("tart list: %w", err)
	}
	vms := make([]events.VM, 0, len(entries))
	for i, e := range entries {
		v, err := e.vm()
		if err != nil {
			return nil, fmt.Errorf("tart list: entry %d: %w", i, err)
		}
		vms = append(vms, v)
	}
	return vms, nil
}

func (e listEntry) vm() (events.VM, error) {
	if e.Name == "" {
		return events.VM{}, errors.New("no Name")
	}
	v := events.VM{Name: e.Name, State: normState(e.State, e.Running), Accessed: parseAccessed(e.Accessed)}
	switch {
	case e.Source != "":
		v.Source = strings.ToLower(e.Source)
	case strings.Contains(v.Name, "/"):
		v.Source = "oci"
	default:
		v.Source = "local"
	}
	size := e.Size
	if !size.set {
		size = e.SizeOnDisk
	}
	var err error
	if v.DiskGB, err = e.Disk.gb("Disk"); err != nil {
		return events.VM{}, err
	}
	if v.SizeGB, err = size.gb("Size"); err != nil {
		return events.VM{}, err
	}
	if _, err := e.SizeOnDisk.gb("SizeOnDisk"); err != nil {
		return events.VM{}, err
	}
	return v, nil
}

// normState maps tart's State and Running fields to a VM state. Running true
// wins over any State; an unknown State of a VM not known to run is "".
func normState(state string, running optBool) string {
	if running.set && running.v {
		return events.VMRunning
	}
	switch s := strings.ToLower(strings.TrimSpace(state)); s {
	case events.VMRunning, events.VMStopped, events.VMSuspended:
		return s
	case "":
		if running.set {
			return events.VMStopped
		}
	}
	return ""
}

func parseAccessed(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// getEntry is `tart get NAME --format json`, the union over tart versions.
type getEntry struct {
	OS         string `json:"OS"`
	CPU        number `json:"CPU"`
	Memory     number `json:"Memory"`
	Disk       number `json:"Disk"`
	DiskFormat string `json:"DiskFormat"`
	// Size is a string like "20.123" (GB) in tart 2.x, absent before.
	Size     number  `json:"Size"`
	Display  string  `json:"Display"`
	Running  optBool `json:"Running"`
	State    string  `json:"State"`
	Accessed string  `json:"Accessed"`
}

// ParseInfo parses the output of `tart get NAME --format json` of any tart
// version. Missing fields are left zero; State is normalised as in ParseList.
func ParseInfo(out []byte) (Info, error) {
	trimmed := bytes.TrimSpace(out)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return Info{}, fmt.Errorf("tart get: want a JSON object, got %q", head(trimmed))
	}
	var e getEntry
	if err := json.Unmarshal(trimmed, &e); err != nil {
		return Info{}, fmt.Errorf("tart get: %w", err)
	}
	info := Info{State: normState(e.State, e.Running), Accessed: parseAccessed(e.Accessed),
		OS: strings.ToLower(e.OS), Display: e.Display, DiskFormat: e.DiskFormat}
	for _, f := range []struct {
		name string
		n    number
		dst  *int
	}{{"CPU", e.CPU, &info.CPU}, {"Memory", e.Memory, &info.Memory}, {"Disk", e.Disk, &info.DiskGB}, {"Size", e.Size, &info.SizeGB}} {
		v, err := f.n.gb(f.name)
		if err != nil {
			return Info{}, fmt.Errorf("tart get: %w", err)
		}
		*f.dst = v
	}
	return info, nil
}

// IsDigestRef reports whether an OCI name pins a digest (NAME@sha256:…), the
// second entry tart lists for every pulled image.
func IsDigestRef(name string) bool { return strings.Contains(name, "@") }

// maxNumber bounds sizes and counts: far above any real disk (GB) or memory
// (MB), far below int overflow on 32-bit platforms.
const maxNumber = 1 << 30

// number is a non-negative quantity tart printed as a JSON number (integer or
// not) or as a numeric string ("20.123"). It is floored to an int, as tart's
// own integer GB figures are. set tells a present field from an absent one.
type number struct {
	v   float64
	set bool
}

func (n *number) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	s := b
	if len(b) > 0 && b[0] == '"' {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		s = []byte(strings.TrimSpace(str))
	}
	f, err := strconv.ParseFloat(string(s), 64)
	if err != nil {
		return fmt.Errorf("not a number: %s", head(b))
	}
	n.v, n.set = f, true
	return nil
}

// gb returns the floored value, 0 when absent.
func (n number) gb(field string) (int, error) {
	if !n.set {
		return 0, nil
	}
	if math.IsNaN(n.v) || n.v < 0 || n.v > maxNumber {
		return 0, fmt.Errorf("%s: %v out of range", field, n.v)
	}
	return int(math.Floor(n.v)), nil
}

// optBool is a JSON boolean that may be absent (or null).
type optBool struct{ v, set bool }

func (o *optBool) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "null":
		return nil
	case "true":
		o.v, o.set = true, true
	case "false":
		o.v, o.set = false, true
	default:
		return fmt.Errorf("not a boolean: %s", head(b))
	}
	return nil
}

// head returns the start of b, for error messages.
func head(b []byte) string {
	const n = 64
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
