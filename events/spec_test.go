package events

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseNameExact(t *testing.T) {
	t.Parallel()
	spec := DefaultImageSpec()
	tests := []struct {
		name string
		want ImageRef
		ok   bool
	}{
		{"bun-build-macos-14-1.2.16-bootstrap-3.6", ImageRef{"14", "1.2.16", "3.6"}, true},
		{"bun-build-macos-13-1.2.9-bootstrap-3.7", ImageRef{"13", "1.2.9", "3.7"}, true},
		{"bun-build-macos-14-1.2.16-bootstrap-3.60", ImageRef{"14", "1.2.16", "3.60"}, true},
		{"bun-build-macos-14-1.2.16-bootstrap-3.6-old", ImageRef{}, false},
		{"bun-build-macos-14-1.2.16-bootstrap-", ImageRef{}, false},
		{"xbun-build-macos-14-1.2.16-bootstrap-3.6", ImageRef{}, false},
		{"bun-build-macos-14-1.2.16-bootstrapX3.6", ImageRef{}, false},
		{"bun-build-macos-14-1.2.16-bootstrap-3 6", ImageRef{}, false},
		{"bun-build-macos--1.2.16-bootstrap-3.6", ImageRef{}, false},
		{"ghcr.io/acme/bun-build-macos-14:1.2.16", ImageRef{}, false},
		{"vmfleet-tmp-bun-build-macos-14-1.2.16-bootstrap-3.6-123", ImageRef{}, false},
		{"", ImageRef{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := spec.ParseName(tt.name)
			if ok != tt.ok || got != tt.want {
				t.Errorf("Got(ParseName(%q)) = %v, %v, want %v, %v", tt.name, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestParseNameRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tmpl := range []string{DefaultNameTemplate, "{release}-{bun}-{bootstrap}", "macos{release}-bun{bun}-bs{bootstrap}.img", "img-{bootstrap}-x-{bun}-{release}"} {
		spec := ImageSpec{NameTemplate: tmpl, Releases: []string{"14"}, BunVersion: "1.2.16", BootstrapVersion: "3.6"}
		if err := spec.Validate(); err != nil {
			t.Fatalf("Validate(%q) = %v", tmpl, err)
		}
		name := spec.ImageName("14")
		got, ok := spec.ParseName(name)
		if want := (ImageRef{"14", "1.2.16", "3.6"}); !ok || got != want {
			t.Errorf("template %q: Got(ParseName(%q)) = %v, %v, want %v", tmpl, name, got, ok, want)
		}
	}
}

func TestSpecValidateNamesKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mod  func(*ImageSpec)
		want string
	}{
		{func(s *ImageSpec) { s.NameTemplate = "x-{release}{bun}-{bootstrap}" }, "images.name_template"},
		{func(s *ImageSpec) { s.NameTemplate = "x-{release}-{bun}" }, "missing placeholder {bootstrap}"},
		{func(s *ImageSpec) { s.NameTemplate = "x-{release}-{bun}-{bootstrap}-{os}" }, "unknown placeholder"},
		{func(s *ImageSpec) { s.Releases = nil }, "images.releases"},
		{func(s *ImageSpec) { s.Releases = []string{"14", "14"} }, "images.releases[1]"},
		{func(s *ImageSpec) { s.Releases = []string{"1-4"} }, "images.releases[0]"},
		{func(s *ImageSpec) { s.BunVersion = "" }, "images.bun_version"},
		{func(s *ImageSpec) { s.BootstrapVersion = "3-6" }, "images.bootstrap_version"},
		{func(s *ImageSpec) { s.Registry = "ghcr.io/x;rm -rf" }, "images.registry"},
	}
	for _, tt := range tests {
		s := DefaultImageSpec()
		tt.mod(&s)
		err := s.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrInvalid) {
			t.Errorf("Got(Validate) = %v, want an ErrInvalid naming %q", err, tt.want)
		}
	}
}

func TestRegistryRef(t *testing.T) {
	t.Parallel()
	s := DefaultImageSpec()
	s.Registry = "ghcr.io/acme/bun-build-macos-{release}:{bun}-bootstrap-{bootstrap}"
	if got, want := s.RegistryRef("14"), "ghcr.io/acme/bun-build-macos-14:1.2.16-bootstrap-3.6"; got != want {
		t.Errorf("Got(RegistryRef) = %q, want %q", got, want)
	}
	s.Registry = ""
	if got := s.RegistryRef("14"); got != "" {
		t.Errorf("Got(RegistryRef) = %q without registry, want empty", got)
	}
}

func TestCompareVersions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int
	}{
		{"1.2.16", "1.2.9", 1}, {"1.2.9", "1.2.16", -1}, {"3.6", "3.6", 0}, {"3.6", "3.6.0", -1},
		{"1.10", "1.9", 1}, {"1.2.x", "1.2.y", -1},
	}
	for _, tt := range tests {
		if got := CompareVersions(tt.a, tt.b); got != tt.want {
			t.Errorf("Got(CompareVersions(%q, %q)) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestHostToken(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"mac-mini-01", "mac-mini-01"},
		{"Mac-Mini-01", "mac-mini-01"},
		{"ci_host_7", "ci_host_7"},
	}
	for _, tt := range tests {
		got, err := HostToken(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Got(HostToken(%q)) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
	seen := map[string]string{}
	for _, in := range []string{"mac.01", "mac_01", "mac 01", "mac*01", "mac>01", "mäc-01", "mac-01", strings.Repeat("a", 100), strings.Repeat("a", 101)} {
		got, err := HostToken(in)
		if err != nil {
			t.Fatalf("HostToken(%q): %v", in, err)
		}
		if !ValidToken(got) {
			t.Errorf("Got(HostToken(%q)) = %q, not a valid token", in, got)
		}
		if prev, dup := seen[got]; dup {
			t.Errorf("HostToken(%q) = HostToken(%q) = %q: collision", in, prev, got)
		}
		seen[got] = in
		again, _ := HostToken(in)
		if again != got {
			t.Errorf("HostToken(%q) not stable: %q then %q", in, got, again)
		}
		if self, _ := HostToken(got); self != got {
			t.Errorf("HostToken(%q) = %q, want a token to be its own token", got, self)
		}
	}
	if _, err := HostToken("  "); !errors.Is(err, ErrInvalid) {
		t.Errorf("Got(HostToken(blank)) error = %v, want ErrInvalid", err)
	}
}

func TestSubjectsRoundTrip(t *testing.T) {
	t.Parallel()
	s, err := NewSubjects("")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		subject string
		want    Parsed
	}{
		{s.Health("mac-01"), Parsed{Kind: KindHealth, Host: "mac-01"}},
		{s.Command("mac-01", VerbPrune), Parsed{Kind: KindCommand, Host: "mac-01", Verb: "prune"}},
		{s.Build("14", BuildPassed), Parsed{Kind: KindBuild, Release: "14", State: "passed"}},
		{s.Prune("mac-01", PruneDeleted), Parsed{Kind: KindPrune, Host: "mac-01", Result: "deleted"}},
		{s.Readiness(), Parsed{Kind: KindReadiness}},
	}
	for _, tt := range tests {
		got, err := s.Parse(tt.subject)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.subject, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Parse(%q) (-want +got):\n%s", tt.subject, diff)
		}
	}
	for _, bad := range []string{"other.host.a.health", "vmfleet.host.a.b.health", "vmfleet.host..health", "vmfleet.host.*.health", "vmfleet.nope.a.b"} {
		if _, err := s.Parse(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Got(Parse(%q)) error = %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := NewSubjects("a.>"); err == nil {
		t.Error("Got(NewSubjects(a.>)) = nil error, want one")
	}
}

func TestValidateSpecRules(t *testing.T) {
	t.Parallel()
	good := []func(*Spec){
		func(s *Spec) { s.Images.Releases = []string{"13", "14", "15", "26", "15.1"} },
		func(s *Spec) { s.Images.BunVersion = "1.2.16" },
		func(s *Spec) { s.Images.BunVersion = "10.20.30+build.7" },
		func(s *Spec) { s.Images.BootstrapVersion = "3.6_rc+1" },
		func(s *Spec) { s.Images.Registry = "ghcr.io/acme/macos-{release}:{bun}-{bootstrap}" },
	}
	for i, mod := range good {
		s := Spec{Images: DefaultImageSpec()}
		mod(&s)
		if err := ValidateSpec(s); err != nil {
			t.Errorf("Got(ValidateSpec(good %d)) = %v, want nil", i, err)
		}
	}
	bad := []struct {
		mod  func(*Spec)
		want string
	}{
		{func(s *Spec) { s.Images.Releases = []string{"abc"} },
			`spec: images.releases[0]: "abc" is not a macOS release number (digits, optionally .digits, e.g. 14 or 15.1)`},
		{func(s *Spec) { s.Images.Releases = []string{"14", "15.1.2"} }, `images.releases[1]: "15.1.2" is not a macOS release number`},
		{func(s *Spec) { s.Images.Releases = []string{"14."} }, `images.releases[0]: "14." is not`},
		{func(s *Spec) { s.Images.Releases = []string{".1"} }, `images.releases[0]: ".1" is not`},
		{func(s *Spec) { s.Images.Releases = []string{""} }, `images.releases[0]: "" is not`},
		{func(s *Spec) { s.Images.Releases = []string{} }, "spec: images.releases: at least one release is required"},
		{func(s *Spec) { s.Images.Releases = []string{"15.1", "15.1"} }, `images.releases[1]: "15.1" listed twice`},
		{func(s *Spec) { s.Images.BunVersion = "1.2.x" }, `spec: images.bun_version: "1.2.x" is not a semantic version (major.minor.patch, e.g. 1.2.16)`},
		{func(s *Spec) { s.Images.BunVersion = "1.2" }, `images.bun_version: "1.2" is not a semantic version`},
		{func(s *Spec) { s.Images.BunVersion = "01.2.3" }, `images.bun_version: "01.2.3" is not a semantic version`},
		{func(s *Spec) { s.Images.BunVersion = "1.2.3+" }, `images.bun_version: "1.2.3+" is not a semantic version`},
		{func(s *Spec) { s.Images.BunVersion = "1.2.3-01" }, `images.bun_version: "1.2.3-01" is not a semantic version`},
		{func(s *Spec) { s.Images.BunVersion = "1.2.17-canary.1" }, `images.bun_version: "1.2.17-canary.1": '-' cannot stand in an image name`},
		{func(s *Spec) { s.Images.BootstrapVersion = "3-6" }, "spec: images.bootstrap_version"},
		{func(s *Spec) { s.Images.Registry = "ghcr.io//x:{release}" }, "spec: images.registry"},
		{func(s *Spec) { s.Cleanup.KeepBunVersions = -1 }, "spec: cleanup.keep_bun_versions"},
		{func(s *Spec) { s.Cleanup.Windows = []Window{{Schedule: " ", Duration: Duration(time.Hour)}} }, "spec: cleanup.windows[0].schedule"},
		{func(s *Spec) { s.Cleanup.Windows = []Window{{Schedule: "0 2 * * *"}} }, "spec: cleanup.windows[0].duration"},
	}
	for _, tt := range bad {
		s := Spec{Images: DefaultImageSpec()}
		tt.mod(&s)
		err := ValidateSpec(s)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Got(ValidateSpec) = %v, want one ErrInvalid line containing %q", err, tt.want)
		}
	}
}
