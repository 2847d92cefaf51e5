package events

import (
	"strings"
	"testing"
)

// replacerFill is what fill did before: one strings.Replacer per call.
func replacerFill(tmpl string, ref ImageRef) string {
	return strings.NewReplacer(PhRelease, ref.Release, PhBun, ref.Bun, PhBootstrap, ref.Bootstrap).Replace(tmpl)
}

func FuzzFillMatchesReplacer(f *testing.F) {
	for _, tmpl := range []string{DefaultNameTemplate, "", "plain", "{", "}{", "{{release}}", "{release}{bun}{bootstrap}",
		"{bun", "{bootstrap", "{rel{release}", "ghcr.io/x/bun-build-macos-{release}:{bun}-bootstrap-{bootstrap}", "{boot}{bun}x{"} {
		f.Add(tmpl, "14", "1.2.16", "3.7")
	}
	f.Add("{release}-{release}", "{bun}", "{release}", "")
	f.Fuzz(func(t *testing.T, tmpl, release, bun, bootstrap string) {
		ref := ImageRef{Release: release, Bun: bun, Bootstrap: bootstrap}
		if got, want := (ImageSpec{}).fill(tmpl, ref), replacerFill(tmpl, ref); got != want {
			t.Errorf("Got(fill(%q, %+v)) = %q, want %q (strings.Replacer)", tmpl, ref, got, want)
		}
	})
}

// BenchmarkImageName: "fill" is ImageName, "replacer" the strings.Replacer
// per call it replaced.
func BenchmarkImageName(b *testing.B) {
	s := ImageSpec{Releases: []string{"13", "14"}, BunVersion: "1.2.16", BootstrapVersion: "3.7"}
	ref := ImageRef{Release: "14", Bun: s.BunVersion, Bootstrap: s.BootstrapVersion}
	b.Run("fill", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = s.ImageName("14")
		}
	})
	b.Run("replacer", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = replacerFill(DefaultNameTemplate, ref)
		}
	})
}
