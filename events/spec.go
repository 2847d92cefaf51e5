package events

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultNameTemplate is the seed's image name scheme.
const DefaultNameTemplate = "bun-build-macos-{release}-{bun}-bootstrap-{bootstrap}"

// Template placeholders.
const (
	PhRelease   = "{release}"
	PhBun       = "{bun}"
	PhBootstrap = "{bootstrap}"
)

// ImageSpec is the desired state of every host's images (docs/configuration.md).
type ImageSpec struct {
	NameTemplate     string   `json:"name_template" yaml:"name_template"`
	Releases         []string `json:"releases" yaml:"releases"`
	BunVersion       string   `json:"bun_version" yaml:"bun_version"`
	BootstrapVersion string   `json:"bootstrap_version" yaml:"bootstrap_version"`
	// Registry, when set, is an OCI reference template; images are built once
	// for the fleet, pushed there and pulled by every host.
	Registry string `json:"registry,omitempty" yaml:"registry"`
}

// Window is one cleanup window: a cron schedule (robfig/cron syntax, CRON_TZ=
// allowed) opening it and how long it stays open.
type Window struct {
	Schedule string   `json:"schedule" yaml:"schedule"`
	Duration Duration `json:"duration" yaml:"duration"`
}

// CleanupPolicy is what the cleanup rules need besides the image spec (docs/orchestrator.md#cleanup).
type CleanupPolicy struct {
	KeepBunVersions        int      `json:"keep_bun_versions" yaml:"keep_bun_versions"`
	DiskEmergencyFreeBytes int64    `json:"disk_emergency_free_bytes" yaml:"disk_emergency_free_bytes"`
	Windows                []Window `json:"windows" yaml:"windows"`
	// RemovedGrace is how long images that leave every active spec (current
	// and next) are kept after the change that removed them; 0 means
	// DefaultRemovedGrace (see Grace and Retained).
	RemovedGrace Duration `json:"removed_grace,omitempty" yaml:"removed_grace"`
	// MaxPruneHostsFraction is the disruption budget: the share of non-stale
	// hosts the orchestrator may send a prune in one cleanup window
	// occurrence; 0 means DefaultMaxPruneHostsFraction, else in (0,1].
	MaxPruneHostsFraction float64 `json:"max_prune_hosts_fraction,omitempty" yaml:"max_prune_hosts_fraction"`
}

// Cleanup policy defaults, for the zero values of a stored spec.
const (
	DefaultRemovedGrace          = 24 * time.Hour
	DefaultMaxPruneHostsFraction = 0.25
)

// Grace is RemovedGrace, or DefaultRemovedGrace when it is 0 (or negative,
// which validation refuses).
func (p CleanupPolicy) Grace() time.Duration {
	if p.RemovedGrace <= 0 {
		return DefaultRemovedGrace
	}
	return p.RemovedGrace.D()
}

// PruneHostsFraction is MaxPruneHostsFraction, or
// DefaultMaxPruneHostsFraction when it is 0 (or out of range, which
// validation refuses).
func (p CleanupPolicy) PruneHostsFraction() float64 {
	if !(p.MaxPruneHostsFraction > 0 && p.MaxPruneHostsFraction <= 1) {
		return DefaultMaxPruneHostsFraction
	}
	return p.MaxPruneHostsFraction
}

// Spec is what the orchestrator publishes to KV bucket vmfleet_spec, key
// current (in force) or next (staged).
type Spec struct {
	Images    ImageSpec     `json:"images"`
	Cleanup   CleanupPolicy `json:"cleanup"`
	UpdatedAt time.Time     `json:"updated_at"`
	UpdatedBy string        `json:"updated_by,omitempty"`
	// Reason is why the spec was changed (`vmfleet spec set --reason`).
	Reason string `json:"reason,omitempty"`
	// AutoPromote, in a staged spec (key NextSpecKey), is the share of
	// non-stale hosts (0 to 1) that must hold every staged image ready
	// before the orchestrator promotes it by itself; 0: promote by hand
	// (`vmfleet spec promote`). Ignored under key current.
	AutoPromote float64 `json:"auto_promote,omitempty"`
	// Revision is the KV revision the spec was read at; it is not stored.
	Revision uint64 `json:"-"`
}

// DecodeSpec reads a spec as stored in KV bucket vmfleet_spec: a CloudEvent
// of type TypeSpec, or the bare Spec JSON. It fills a missing name template
// with the default and validates the result with ValidateSpec.
func DecodeSpec(b []byte) (Spec, error) {
	s, err := DecodeEither[Spec](b, TypeSpec)
	if err != nil {
		return s, err
	}
	if s.Images.NameTemplate == "" {
		s.Images.NameTemplate = DefaultNameTemplate
	}
	return s, nil
}

// Validate checks the spec (ValidateSpec).
func (s Spec) Validate() error { return ValidateSpec(s) }

// ValidateSpec checks every field of a spec, naming the field and the rule
// it breaks. Every way a spec comes in (the orchestrator's config, `vmfleet
// spec set`, the API, a KV value) goes through it; the orchestrator and the
// agent add only the cron syntax of cleanup windows on top (package cleanup).
func ValidateSpec(s Spec) error {
	if err := s.Images.Validate(); err != nil {
		return fmt.Errorf("spec: %w", err)
	}
	if s.Cleanup.KeepBunVersions < 0 {
		return fmt.Errorf("spec: %w", fieldErr("cleanup.keep_bun_versions", "must be 0 or more"))
	}
	if !(s.AutoPromote >= 0 && s.AutoPromote <= 1) {
		return fieldErr("auto_promote", fmt.Sprintf("%v: must be a share of hosts from 0 (promote by hand) to 1", s.AutoPromote))
	}
	if s.Cleanup.RemovedGrace < 0 {
		return fieldErr("cleanup.removed_grace", "must be 0 (the default, 24h) or more")
	}
	if f := s.Cleanup.MaxPruneHostsFraction; f != 0 && !(f > 0 && f <= 1) {
		return fieldErr("cleanup.max_prune_hosts_fraction", fmt.Sprintf("%v: must be in (0,1], or 0 for the default, 0.25", f))
	}
	for i, w := range s.Cleanup.Windows {
		if strings.TrimSpace(w.Schedule) == "" {
			return fmt.Errorf("spec: %w", fieldErr(fmt.Sprintf("cleanup.windows[%d].schedule", i), "empty"))
		}
		if w.Duration <= 0 {
			return fmt.Errorf("spec: %w", fieldErr(fmt.Sprintf("cleanup.windows[%d].duration", i), "must be positive"))
		}
	}
	return nil
}

// DefaultImageSpec is the seed's defaults: release 14, bun 1.2.16, bootstrap 3.6.
func DefaultImageSpec() ImageSpec {
	return ImageSpec{NameTemplate: DefaultNameTemplate, Releases: []string{"14"}, BunVersion: "1.2.16", BootstrapVersion: "3.6"}
}

// validValue reports whether v may fill a placeholder: non-empty, of
// [A-Za-z0-9._+], and never '-', which separates placeholders in templates.
func validValue(v string) bool {
	if v == "" || len(v) > 64 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '+') {
			return false
		}
	}
	return true
}

// Validate checks the image spec, naming the key at fault.
func (s ImageSpec) Validate() error {
	if _, err := compileTemplate(s.template()); err != nil {
		return err
	}
	if err := ValidateReleases(s.Releases); err != nil {
		return err
	}
	if err := ValidateBunVersion(s.BunVersion); err != nil {
		return err
	}
	if err := ValidateBootstrapVersion(s.BootstrapVersion); err != nil {
		return err
	}
	if s.Registry != "" && strings.ContainsAny(s.Registry, " \t\n'\"`$;|&") {
		return fieldErr("images.registry", fmt.Sprintf("%q is not a valid OCI reference template", s.Registry))
	}
	for _, r := range s.Releases {
		if ref := s.RegistryRef(r); ref != "" {
			if err := ValidateOCIRef(ref); err != nil {
				return fieldErr("images.registry", err.Error())
			}
		}
	}
	return nil
}

// ValidateReleases checks the spec's releases: at least one, each a macOS
// release number (digits, optionally .digits: 14, 15.1), none twice.
func ValidateReleases(rs []string) error {
	if len(rs) == 0 {
		return fieldErr("images.releases", "at least one release is required")
	}
	seen := map[string]bool{}
	for i, r := range rs {
		if !isReleaseNumber(r) {
			return fieldErr(fmt.Sprintf("images.releases[%d]", i), fmt.Sprintf("%q is not a macOS release number (digits, optionally .digits, e.g. 14 or 15.1)", r))
		}
		if seen[r] {
			return fieldErr(fmt.Sprintf("images.releases[%d]", i), fmt.Sprintf("%q listed twice", r))
		}
		seen[r] = true
	}
	return nil
}

// isReleaseNumber reports whether r is digits, optionally '.' and digits.
func isReleaseNumber(r string) bool {
	major, minor, dot := strings.Cut(r, ".")
	return len(r) <= 16 && allDigits(major) && (!dot || allDigits(minor))
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// ValidateBunVersion checks the spec's bun version: a semantic version
// (1.2.16, with a build suffix as semver allows: 1.2.16+abc). A pre-release
// suffix (1.2.16-canary.1) is refused, since '-' cannot stand in an image
// name (it separates the template's placeholders).
func ValidateBunVersion(v string) error {
	const rule = "is not a semantic version (major.minor.patch, e.g. 1.2.16)"
	if !isSemver(v) {
		return fieldErr("images.bun_version", fmt.Sprintf("%q %s", v, rule))
	}
	if !validValue(v) {
		return fieldErr("images.bun_version", fmt.Sprintf("%q: '-' cannot stand in an image name (it separates the name's parts), so no pre-release suffix", v))
	}
	return nil
}

// isSemver reports whether v is a semantic version 2.0.0: three numbers
// without leading zeros, then optionally -pre.release and +build.
func isSemver(v string) bool {
	if len(v) > 64 {
		return false
	}
	v, build, hasBuild := strings.Cut(v, "+")
	if hasBuild && !dotIdents(build, false) {
		return false
	}
	v, pre, hasPre := strings.Cut(v, "-")
	if hasPre && !dotIdents(pre, true) {
		return false
	}
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if !allDigits(p) || (len(p) > 1 && p[0] == '0') {
			return false
		}
	}
	return true
}

// dotIdents checks semver's dot-separated identifiers: non-empty, of
// [0-9A-Za-z-]; numeric pre-release identifiers have no leading zero.
func dotIdents(s string, pre bool) bool {
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return false
		}
		for i := 0; i < len(id); i++ {
			c := id[i]
			if !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-') {
				return false
			}
		}
		if pre && allDigits(id) && len(id) > 1 && id[0] == '0' {
			return false
		}
	}
	return true
}

// ValidateBootstrapVersion checks the spec's bootstrap version: a value a
// template placeholder can hold (digits, letters, '.', '_' or '+').
func ValidateBootstrapVersion(v string) error {
	if !validValue(v) {
		return fieldErr("images.bootstrap_version", fmt.Sprintf("%q: use digits, letters, '.', '_' or '+'", v))
	}
	return nil
}

func (s ImageSpec) template() string {
	if s.NameTemplate == "" {
		return DefaultNameTemplate
	}
	return s.NameTemplate
}

// fill puts ref's values in tmpl's placeholders, in one pass from the left
// as strings.NewReplacer(PhRelease, ref.Release, PhBun, ref.Bun,
// PhBootstrap, ref.Bootstrap).Replace would (no placeholder is a prefix of
// another), without building a replacer per call: agents and the
// orchestrator name images on every check and every pass.
func (s ImageSpec) fill(tmpl string, ref ImageRef) string {
	i := strings.IndexByte(tmpl, '{')
	if i < 0 {
		return tmpl
	}
	var b strings.Builder
	b.Grow(len(tmpl) + len(ref.Release) + len(ref.Bun) + len(ref.Bootstrap))
	for i >= 0 {
		b.WriteString(tmpl[:i])
		tmpl = tmpl[i:]
		switch {
		case strings.HasPrefix(tmpl, PhRelease):
			b.WriteString(ref.Release)
			tmpl = tmpl[len(PhRelease):]
		case strings.HasPrefix(tmpl, PhBun):
			b.WriteString(ref.Bun)
			tmpl = tmpl[len(PhBun):]
		case strings.HasPrefix(tmpl, PhBootstrap):
			b.WriteString(ref.Bootstrap)
			tmpl = tmpl[len(PhBootstrap):]
		default:
			b.WriteByte('{')
			tmpl = tmpl[1:]
		}
		i = strings.IndexByte(tmpl, '{')
	}
	b.WriteString(tmpl)
	return b.String()
}

// ImageName is the expected VM name for release under this spec.
func (s ImageSpec) ImageName(release string) string {
	return s.fill(s.template(), ImageRef{Release: release, Bun: s.BunVersion, Bootstrap: s.BootstrapVersion})
}

// RegistryRef is the OCI reference of release's image, or "" without a registry.
func (s ImageSpec) RegistryRef(release string) string {
	if s.Registry == "" {
		return ""
	}
	return s.fill(s.Registry, ImageRef{Release: release, Bun: s.BunVersion, Bootstrap: s.BootstrapVersion})
}

// HasRelease reports whether release is in the spec.
func (s ImageSpec) HasRelease(release string) bool { return slices.Contains(s.Releases, release) }

// ImageRef is what an image name says about the image.
type ImageRef struct {
	Release   string `json:"release"`
	Bun       string `json:"bun"`
	Bootstrap string `json:"bootstrap"`
}

// ParseName parses name with the spec's template, exactly: every literal part
// must match byte for byte and every placeholder value must be a valid value
// (no '-'). ok is false for any name that is not ours.
func (s ImageSpec) ParseName(name string) (ImageRef, bool) {
	parts, err := compileTemplate(s.template())
	if err != nil {
		return ImageRef{}, false
	}
	return parts.parse(name)
}

type tmplPart struct {
	lit string // literal text, or "" for a placeholder
	ph  string // placeholder, or "" for a literal
}

type tmplParts []tmplPart

func compileTemplate(t string) (tmplParts, error) {
	var parts tmplParts
	seen := map[string]bool{}
	rest := t
	for rest != "" {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			parts = append(parts, tmplPart{lit: rest})
			break
		}
		if i > 0 {
			parts = append(parts, tmplPart{lit: rest[:i]})
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return nil, fieldErr("images.name_template", fmt.Sprintf("%q: unclosed '{'", t))
		}
		ph := rest[i : i+j+1]
		if ph != PhRelease && ph != PhBun && ph != PhBootstrap {
			return nil, fieldErr("images.name_template", fmt.Sprintf("%q: unknown placeholder %s (use {release}, {bun}, {bootstrap})", t, ph))
		}
		if seen[ph] {
			return nil, fieldErr("images.name_template", fmt.Sprintf("%q: placeholder %s used twice", t, ph))
		}
		seen[ph] = true
		if n := len(parts); n > 0 && parts[n-1].ph != "" {
			return nil, fieldErr("images.name_template", fmt.Sprintf("%q: placeholders %s and %s need a '-' between them", t, parts[n-1].ph, ph))
		}
		parts = append(parts, tmplPart{ph: ph})
		rest = rest[i+j+1:]
	}
	for _, ph := range []string{PhRelease, PhBun, PhBootstrap} {
		if !seen[ph] {
			return nil, fieldErr("images.name_template", fmt.Sprintf("%q: missing placeholder %s", t, ph))
		}
	}
	for k, p := range parts {
		// A literal between two placeholders must contain '-', so that
		// values (which never contain '-') split unambiguously.
		if p.ph == "" && k > 0 && k < len(parts)-1 && !strings.Contains(p.lit, "-") {
			return nil, fieldErr("images.name_template", fmt.Sprintf("%q: the text %q between placeholders must contain '-'", t, p.lit))
		}
	}
	return parts, nil
}

func (ps tmplParts) parse(name string) (ImageRef, bool) {
	var ref ImageRef
	rest := name
	for k, p := range ps {
		if p.ph == "" {
			var ok bool
			if rest, ok = strings.CutPrefix(rest, p.lit); !ok {
				return ImageRef{}, false
			}
			continue
		}
		var val string
		switch next := ""; {
		case k == len(ps)-1:
			val, rest = rest, ""
		default:
			next = ps[k+1].lit
			end := -1
			if d := strings.IndexByte(next, '-'); d >= 0 {
				// Values never contain '-', so the first '-' left in the
				// name is the literal's first '-'.
				if f := strings.IndexByte(rest, '-'); f >= d {
					end = f - d
				}
			} else if k+1 == len(ps)-1 && strings.HasSuffix(rest, next) {
				// A final literal without '-' is a suffix.
				end = len(rest) - len(next)
			}
			if end < 0 {
				return ImageRef{}, false
			}
			val, rest = rest[:end], rest[end:]
		}
		if !validValue(val) {
			return ImageRef{}, false
		}
		switch p.ph {
		case PhRelease:
			ref.Release = val
		case PhBun:
			ref.Bun = val
		case PhBootstrap:
			ref.Bootstrap = val
		}
	}
	if rest != "" {
		return ImageRef{}, false
	}
	return ref, true
}

// CompareVersions compares dotted versions numerically where both parts are
// numbers ("1.2.16" > "1.2.9"), and as text otherwise. It returns -1, 0 or 1.
func CompareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y string
		if i < len(as) {
			x = as[i]
		}
		if i < len(bs) {
			y = bs[i]
		}
		xn, errx := strconv.Atoi(x)
		yn, erry := strconv.Atoi(y)
		if errx == nil && erry == nil {
			if xn != yn {
				if xn < yn {
					return -1
				}
				return 1
			}
			continue
		}
		if c := strings.Compare(x, y); c != 0 {
			return c
		}
	}
	return 0
}
