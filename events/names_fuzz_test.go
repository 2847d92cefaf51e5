package events

import (
	"strings"
	"testing"
)

// FuzzParseName: names are parsed back exactly (docs/agent.md): a name that
// parses is the very name the template gives for what it parsed to, so a
// look-alike ("...-bootstrap-3.60", a suffix, a prefix) is never ours.
func FuzzParseName(f *testing.F) {
	for _, s := range []string{
		"bun-build-macos-14-1.2.16-bootstrap-3.6", "bun-build-macos-14-1.2.16-bootstrap-3.60",
		"bun-build-macos-14-1.2.16-bootstrap-3.6-tmp", "xbun-build-macos-14-1.2.16-bootstrap-3.6",
		"bun-build-macos--1.2.16-bootstrap-3.6", "bun-build-macos-14-1-2-bootstrap-3.6",
	} {
		f.Add(s, "")
		f.Add(s, "{release}_{bun}_{bootstrap}")
	}
	f.Fuzz(func(t *testing.T, name, tmpl string) {
		spec := ImageSpec{NameTemplate: tmpl}
		p, err := spec.NameParser()
		if err != nil {
			if _, ok := spec.ParseName(name); ok {
				t.Fatalf("Got %q parsed with the invalid template %q", name, tmpl)
			}
			return
		}
		ref, ok := p.Parse(name)
		if ref2, ok2 := spec.ParseName(name); ok2 != ok || ref2 != ref {
			t.Fatalf("Got NameParser %v %+v, ParseName %v %+v for %q", ok, ref, ok2, ref2, name)
		}
		if !ok {
			return
		}
		back := ImageSpec{NameTemplate: tmpl, BunVersion: ref.Bun, BootstrapVersion: ref.Bootstrap}.ImageName(ref.Release)
		if back != name {
			t.Fatalf("Got %q parsed to %+v, which names %q: not exact", name, ref, back)
		}
		for _, v := range []string{ref.Release, ref.Bun, ref.Bootstrap} {
			if strings.Contains(tmpl, "{") && strings.ContainsRune(v, '-') {
				t.Fatalf("Got placeholder value %q with '-' from %q", v, name)
			}
		}
	})
}
