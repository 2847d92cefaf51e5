package tart

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vmfleet/vmfleet/events"
)

// goldenVMs is what ParseList must return for testdata/list-<version>.json
// (see testdata/README.md for the inventory).
func goldenVMs(version string) []events.VM {
	type row struct {
		name, source, state string
		disk, size          int
		accessed            time.Time
	}
	acc := func(s string) time.Time { t, _ := time.Parse(time.RFC3339, s); return t }
	rows := []row{
		{"builder-tmp-7f3a", "local", events.VMSuspended, 80, 25, acc("2024-12-30T17:45:09Z")},
		{"bun-build-macos-14-1.2.16-bootstrap-3.6", "local", events.VMStopped, 100, 38, acc("2025-01-07T10:05:23Z")},
		{"bun-build-macos-14-1.2.16-bootstrap-3x6", "local", events.VMRunning, 100, 41, acc("2025-01-08T08:00:00Z")},
		{"ghcr.io/cirruslabs/macos-sonoma-base:latest", "oci", events.VMStopped, 50, 22, acc("2024-12-01T09:00:00Z")},
		{"ghcr.io/cirruslabs/macos-sonoma-base@sha256:16c1593bbaf787b20b3c0bc094c5b6baf71c937d22c2e4596da85ac55c92e6cc", "oci", events.VMStopped, 50, 22, acc("2024-12-01T09:00:00Z")},
	}
	var out []events.VM
	for _, r := range rows {
		v := events.VM{Name: r.name, Source: r.source, State: r.state, DiskGB: r.disk, SizeGB: r.size, Accessed: r.accessed}
		switch version {
		case "1.0.0": // neither Running nor State: unknown
			v.State = ""
		case "1.2.0": // Running only: a suspended VM reads as stopped
			if v.State == events.VMSuspended {
				v.State = events.VMStopped
			}
		}
		if version < "2.11.0" { // no Disk before ~2.7 (string order is enough for these versions)
			v.DiskGB = 0
		}
		if version < "2.31.0" {
			v.Accessed = time.Time{}
		}
		out = append(out, v)
	}
	return out
}

func TestParseListGolden(t *testing.T) {
	t.Parallel()
	for _, ver := range []string{"1.0.0", "1.2.0", "1.8.0", "2.11.0", "2.15.0", "2.30.0", "2.31.0", "2.35.0"} {
		t.Run(ver, func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(filepath.Join("testdata", "list-"+ver+".json"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseList(b)
			if err != nil {
				t.Fatalf("Got(ParseList) error %v, want nil", err)
			}
			if diff := cmp.Diff(goldenVMs(ver), got); diff != "" {
				t.Errorf("Got(ParseList(%s)) differs (-want +got):\n%s", ver, diff)
			}
			for _, v := range got {
				if v.Source == "oci" != strings.Contains(v.Name, "/") {
					t.Errorf("Got(%s).Source = %q, want oci exactly for registry names", v.Name, v.Source)
				}
			}
		})
	}
}

func TestParseListCases(t *testing.T) {
	t.Parallel()
	entry := func(fields string) string { return `[{"Name":"vm",` + fields + `}]` }
	tests := []struct {
		name    string
		in      string
		want    []events.VM
		wantErr bool
	}{
		{name: "empty output", in: "", want: []events.VM{}},
		{name: "whitespace", in: " \n\t", want: []events.VM{}},
		{name: "empty array", in: "[]", want: []events.VM{}},
		{name: "swift empty array", in: "[\n\n]\n", want: []events.VM{}},
		{name: "size wins over size on disk", in: entry(`"Source":"local","Size":31,"SizeOnDisk":12`),
			want: []events.VM{{Name: "vm", Source: "local", SizeGB: 31}}},
		{name: "size on disk when no size", in: entry(`"Source":"local","SizeOnDisk":12`),
			want: []events.VM{{Name: "vm", Source: "local", SizeGB: 12}}},
		{name: "unknown fields ignored", in: entry(`"Source":"local","Size":1,"Fancy":{"x":[1,2]},"LastModified":"2 days ago"`),
			want: []events.VM{{Name: "vm", Source: "local", SizeGB: 1}}},
		{name: "no source, local name", in: entry(`"Size":1`), want: []events.VM{{Name: "vm", Source: "local", SizeGB: 1}}},
		{name: "no source, registry name", in: `[{"Name":"ghcr.io\/a\/b:1"}]`, want: []events.VM{{Name: "ghcr.io/a/b:1", Source: "oci"}}},
		{name: "source upper case", in: entry(`"Source":"OCI"`), want: []events.VM{{Name: "vm", Source: "oci"}}},
		{name: "running without state", in: entry(`"Running":true`), want: []events.VM{{Name: "vm", Source: "local", State: "running"}}},
		{name: "stopped without state", in: entry(`"Running":false`), want: []events.VM{{Name: "vm", Source: "local", State: "stopped"}}},
		{name: "running wins over stale state", in: entry(`"Running":true,"State":"stopped"`), want: []events.VM{{Name: "vm", Source: "local", State: "running"}}},
		{name: "state case", in: entry(`"State":"Suspended"`), want: []events.VM{{Name: "vm", Source: "local", State: "suspended"}}},
		{name: "unknown state is unknown", in: entry(`"Running":false,"State":"starting"`), want: []events.VM{{Name: "vm", Source: "local", State: ""}}},
		{name: "fractional and string sizes", in: entry(`"Disk":"50.9","Size":20.7`), want: []events.VM{{Name: "vm", Source: "local", DiskGB: 50, SizeGB: 20}}},
		{name: "null fields", in: entry(`"Source":null,"Size":null,"Running":null,"State":null,"Accessed":null`), want: []events.VM{{Name: "vm", Source: "local"}}},
		{name: "bad accessed is zero", in: entry(`"Accessed":"20 hours ago"`), want: []events.VM{{Name: "vm", Source: "local"}}},
		{name: "accessed with offset", in: entry(`"Accessed":"2025-01-07T11:05:23+01:00"`),
			want: []events.VM{{Name: "vm", Source: "local", Accessed: time.Date(2025, 1, 7, 10, 5, 23, 0, time.UTC)}}},
		{name: "no name", in: `[{"Source":"local"}]`, wantErr: true},
		{name: "empty name", in: `[{"Name":""}]`, wantErr: true},
		{name: "object not array", in: `{"Name":"vm"}`, wantErr: true},
		{name: "null", in: `null`, wantErr: true},
		{name: "text table", in: "Source Name Disk Size State\nlocal vm 50 20 stopped\n", wantErr: true},
		{name: "truncated", in: `[{"Name":"vm"`, wantErr: true},
		{name: "trailing garbage", in: `[] x`, wantErr: true},
		{name: "negative size", in: entry(`"Size":-1`), wantErr: true},
		{name: "huge size", in: entry(`"Size":1e300`), wantErr: true},
		{name: "bool size", in: entry(`"Size":true`), wantErr: true},
		{name: "string running", in: entry(`"Running":"yes"`), wantErr: true},
		{name: "non-numeric string size", in: entry(`"Size":"big"`), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseList([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("Got(ParseList(%q)) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Got(ParseList(%q)) differs (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseInfoGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		version string
		want    Info
	}{
		{"1.8.0", Info{CPU: 4, Memory: 8192, DiskGB: 100, Display: "1024x768", State: "stopped"}},
		{"2.11.0", Info{CPU: 4, Memory: 8192, DiskGB: 100, SizeGB: 38, Display: "1024x768", State: "stopped", OS: "darwin"}},
		{"2.35.0", Info{CPU: 4, Memory: 8192, DiskGB: 100, SizeGB: 38, Display: "1024x768", State: "stopped", OS: "darwin", DiskFormat: "raw"}},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(filepath.Join("testdata", "get-"+tt.version+".json"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseInfo(b)
			if err != nil {
				t.Fatalf("Got(ParseInfo) error %v, want nil", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Got(ParseInfo(%s)) differs (-want +got):\n%s", tt.version, diff)
			}
		})
	}
}

func TestParseInfoErrors(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "[]", "null", `{"CPU":"many"}`, `{"Memory":-5}`, `{"Running":1}`, `{`} {
		if got, err := ParseInfo([]byte(in)); err == nil {
			t.Errorf("Got(ParseInfo(%q)) = %+v, nil, want an error", in, got)
		}
	}
}

func TestIsDigestRef(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"ghcr.io/a/b:latest":        false,
		"ghcr.io/a/b@sha256:16c159": true,
		"bun-build-macos-14":        false,
	} {
		if got := IsDigestRef(name); got != want {
			t.Errorf("Got(IsDigestRef(%q)) = %v, want %v", name, got, want)
		}
	}
}

// FuzzParseList: any bytes give VMs or an error, never a panic, and every VM
// has a name and a normalised state.
func FuzzParseList(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`[{"Name":"a","Size":"1.5","State":"Running","Running":false}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		vms, err := ParseList(b)
		if err != nil {
			return
		}
		for _, v := range vms {
			if v.Name == "" {
				t.Fatalf("Got VM with empty name from %q", b)
			}
			switch v.State {
			case "", events.VMRunning, events.VMStopped, events.VMSuspended:
			default:
				t.Fatalf("Got state %q from %q, want a normalised one", v.State, b)
			}
			if v.DiskGB < 0 || v.SizeGB < 0 {
				t.Fatalf("Got negative size %+v from %q", v, b)
			}
		}
	})
}

// listJSON renders n VMs as tart 2.35 prints them.
func listJSON(n int) []byte {
	var b strings.Builder
	b.WriteString("[\n")
	for i := range n {
		fmt.Fprintf(&b, "  {\n    \"Source\" : \"local\",\n    \"Name\" : \"bun-build-macos-%d-1.2.16-bootstrap-3.6\",\n    \"Disk\" : 100,\n    \"Size\" : 38,\n    \"Accessed\" : \"2025-01-07T10:05:23Z\",\n    \"Running\" : false,\n    \"State\" : \"stopped\"\n  }", i)
		if i < n-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("]\n")
	return []byte(b.String())
}

func BenchmarkParseList500(b *testing.B) {
	data := listJSON(500)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		vms, err := ParseList(data)
		if err != nil || len(vms) != 500 {
			b.Fatalf("Got(ParseList) = %d VMs, %v", len(vms), err)
		}
	}
}
