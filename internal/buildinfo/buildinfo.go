// Package buildinfo says which build of vmfleet is running: its version,
// commit, build date and whether the tree was dirty, for `vmfleet version`
// and the vmfleet_build_info metric both daemons export.
//
// Every build path fills it in without a hand-set string:
//   - `make build` and `make release` pass the linker flags below, from
//     `git describe --tags --always --dirty`, `git rev-parse HEAD` and the
//     commit's time; they take precedence over everything else;
//   - `go build` in a git checkout: the go command stamps the module version
//     (a pseudo-version, or the tag) and vcs.revision, vcs.time, vcs.modified;
//   - `go install github.com/vmfleet/vmfleet/cmd/vmfleet@v1.2.3`: the module
//     version, and the commit and time a pseudo-version carries;
//   - a container build: the Dockerfile's build arguments, as linker flags.
//
// The linker flags (all optional, each overriding what Go recorded):
//
//	-X github.com/vmfleet/vmfleet/internal/buildinfo.version=v1.2.3
//	-X github.com/vmfleet/vmfleet/internal/buildinfo.commit=<full hash>
//	-X github.com/vmfleet/vmfleet/internal/buildinfo.date=<RFC 3339>
//	-X github.com/vmfleet/vmfleet/internal/buildinfo.dirty=true|false
package buildinfo

import (
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Set by the linker (-X); empty when not.
var (
	version string
	commit  string
	date    string
	dirty   string
)

// Unknown stands for a field no build path recorded.
const Unknown = "unknown"

// Info describes one build.
type Info struct {
	// Version is the release tag (v1.2.3), `git describe` output past a tag
	// (v1.2.3-4-gabcdef0, with -dirty), a Go pseudo-version, or "dev" when
	// nothing recorded one.
	Version string `json:"version"`
	// Commit is the full commit hash, or "unknown".
	Commit string `json:"commit"`
	// Date is when the commit was made (RFC 3339, UTC), which is what makes a
	// rebuild of the same commit identical; "unknown" when not recorded.
	Date string `json:"date"`
	// Dirty is true when the tree had uncommitted changes.
	Dirty bool `json:"dirty"`
	// GoVersion is the Go toolchain that built the binary.
	GoVersion string `json:"go_version"`
	// Platform is GOOS/GOARCH.
	Platform string `json:"platform"`
}

// Get returns this binary's build information.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return resolve(linkerFlags{version: version, commit: commit, date: date, dirty: dirty}, bi)
}

// linkerFlags are the -X values.
type linkerFlags struct{ version, commit, date, dirty string }

// pseudoRe matches a Go pseudo-version's time and revision
// (vX.Y.Z-yyyymmddhhmmss-abcdefabcdef, with an optional pre-release in front
// of the time and +incompatible or +dirty after).
var pseudoRe = regexp.MustCompile(`[-.](\d{14})-([0-9a-f]{12})(?:\+.*)?$`)

func resolve(ld linkerFlags, bi *debug.BuildInfo) Info {
	info := Info{Version: "dev", Commit: Unknown, Date: Unknown, GoVersion: runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH}
	var vcsModified string
	if bi != nil {
		if bi.GoVersion != "" {
			info.GoVersion = bi.GoVersion
		}
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			info.Version = v
			if m := pseudoRe.FindStringSubmatch(v); m != nil {
				info.Commit = m[2]
				if t, err := time.Parse("20060102150405", m[1]); err == nil {
					info.Date = t.UTC().Format(time.RFC3339)
				}
			}
			info.Dirty = strings.HasSuffix(v, "+dirty")
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Commit = s.Value
			case "vcs.time":
				info.Date = s.Value
			case "vcs.modified":
				vcsModified = s.Value
			}
		}
	}
	if vcsModified != "" {
		info.Dirty = vcsModified == "true"
	}
	if ld.version != "" {
		info.Version = ld.version
		if strings.HasSuffix(ld.version, "-dirty") {
			info.Dirty = true
		}
	}
	if ld.commit != "" {
		info.Commit = ld.commit
	}
	if ld.date != "" {
		info.Date = ld.date
	}
	if d, err := strconv.ParseBool(ld.dirty); err == nil {
		info.Dirty = d
	}
	return info
}

// String is the one-line form: "v1.2.3 (commit abcdef0, 2026-01-02T15:04:05Z, dirty)".
func (i Info) String() string {
	c := i.Commit
	if len(c) > 12 {
		c = c[:12]
	}
	s := i.Version + " (commit " + c + ", " + i.Date
	if i.Dirty {
		s += ", dirty"
	}
	return s + ")"
}

// Collector is the vmfleet_build_info gauge: always 1, the build in its
// labels (version, commit, date, dirty, go_version, platform), so a
// dashboard can join it to any other metric of the same instance.
func Collector() prometheus.Collector {
	i := Get()
	return newCollector(i)
}

func newCollector(i Info) prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "vmfleet", Name: "build_info",
		Help: "The running build: always 1, with version, commit, date, dirty, go_version and platform as labels.",
		ConstLabels: prometheus.Labels{"version": i.Version, "commit": i.Commit, "date": i.Date,
			"dirty": strconv.FormatBool(i.Dirty), "go_version": i.GoVersion, "platform": i.Platform}})
	g.Set(1)
	return g
}
