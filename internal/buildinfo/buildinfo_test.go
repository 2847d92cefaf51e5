package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestResolve(t *testing.T) {
	vcs := func(rev, tm, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev},
			{Key: "vcs.time", Value: tm}, {Key: "vcs.modified", Value: modified}}
	}
	const rev = "6299373aa0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5"
	tests := []struct {
		name string
		ld   linkerFlags
		bi   *debug.BuildInfo
		want Info
	}{
		{name: "nothing recorded (go run, -buildvcs=false)", bi: &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}},
			want: Info{Version: "dev", Commit: Unknown, Date: Unknown}},
		{name: "no build info at all", bi: nil, want: Info{Version: "dev", Commit: Unknown, Date: Unknown}},
		{name: "go install module@tag", bi: &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}},
			want: Info{Version: "v1.4.0", Commit: Unknown, Date: Unknown}},
		{name: "go install module@commit (a pseudo-version)", bi: &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261202084700-6299373aa0b1"}},
			want: Info{Version: "v0.0.0-20261202084700-6299373aa0b1", Commit: "6299373aa0b1", Date: "2026-12-02T08:47:00Z"}},
		{name: "pseudo-version after a tag's pre-release", bi: &debug.BuildInfo{Main: debug.Module{Version: "v1.5.0-rc.1.0.20261202084700-6299373aa0b1"}},
			want: Info{Version: "v1.5.0-rc.1.0.20261202084700-6299373aa0b1", Commit: "6299373aa0b1", Date: "2026-12-02T08:47:00Z"}},
		{name: "go build in a clean checkout", bi: &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261202084700-6299373aa0b1"},
			Settings: vcs(rev, "2026-12-02T08:47:00Z", "false")},
			want: Info{Version: "v0.0.0-20261202084700-6299373aa0b1", Commit: rev, Date: "2026-12-02T08:47:00Z"}},
		{name: "go build in a dirty checkout", bi: &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261202084700-6299373aa0b1+dirty"},
			Settings: vcs(rev, "2026-12-02T08:47:00Z", "true")},
			want: Info{Version: "v0.0.0-20261202084700-6299373aa0b1+dirty", Commit: rev, Date: "2026-12-02T08:47:00Z", Dirty: true}},
		{name: "linker flags win (make build)", ld: linkerFlags{version: "v1.4.0-3-g6299373", commit: "abc", date: "2026-12-01T00:00:00Z", dirty: "false"},
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "2026-12-02T08:47:00Z", "true")},
			want: Info{Version: "v1.4.0-3-g6299373", Commit: "abc", Date: "2026-12-01T00:00:00Z"}},
		{name: "git describe --dirty marks the build dirty", ld: linkerFlags{version: "v1.4.0-dirty"},
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}},
			want: Info{Version: "v1.4.0-dirty", Commit: Unknown, Date: Unknown, Dirty: true}},
		{name: "only the version by flag (container): the rest from VCS", ld: linkerFlags{version: "v2.0.0"},
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "2026-12-02T08:47:00Z", "false")},
			want: Info{Version: "v2.0.0", Commit: rev, Date: "2026-12-02T08:47:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := resolve(tt.ld, tt.bi)
			if got.GoVersion == "" || !strings.Contains(got.Platform, "/") {
				t.Errorf("Got(go version, platform) = %q, %q, want both set", got.GoVersion, got.Platform)
			}
			got.GoVersion, got.Platform = "", ""
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("resolve() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBuildInfoMetric(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newCollector(Info{Version: "v1.4.0", Commit: "abc", Date: "2026-12-02T08:47:00Z", Dirty: true, GoVersion: "go1.26.8", Platform: "darwin/arm64"}))
	want := `# HELP vmfleet_build_info The running build: always 1, with version, commit, date, dirty, go_version and platform as labels.
# TYPE vmfleet_build_info gauge
vmfleet_build_info{commit="abc",date="2026-12-02T08:47:00Z",dirty="true",go_version="go1.26.8",platform="darwin/arm64",version="v1.4.0"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "vmfleet_build_info"); err != nil {
		t.Error(err)
	}
}

func TestString(t *testing.T) {
	i := Info{Version: "v1.4.0", Commit: "6299373aa0b1c2d3e4f5", Date: "2026-12-02T08:47:00Z", Dirty: true}
	if got, want := i.String(), "v1.4.0 (commit 6299373aa0b1, 2026-12-02T08:47:00Z, dirty)"; got != want {
		t.Errorf("Got(String) = %q, want %q", got, want)
	}
}
