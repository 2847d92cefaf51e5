package events

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Kind is the family a subject belongs to.
type Kind string

// Subject kinds (docs/events.md).
const (
	KindHealth    Kind = "host"
	KindCommand   Kind = "cmd"
	KindBuild     Kind = "build"
	KindPrune     Kind = "prune"
	KindReadiness Kind = "fleet"
)

// maxTokenLen bounds a host token so subjects stay short; longer names are
// truncated and suffixed with a hash of the original.
const maxTokenLen = 64

// HostToken turns a hostname into a NATS-safe subject token: lower case, with
// every byte outside [a-z0-9-_] replaced by '_'. Where anything had to be
// replaced (or the name truncated) a short hash of the original name is
// appended, so "mac.01" and "mac_01" never share a token. It is stable: the same
// hostname always gives the same token, and a token is its own token.
func HostToken(hostname string) (string, error) {
	h := strings.TrimSpace(hostname)
	if h == "" {
		return "", fieldErr("host", "empty host name")
	}
	lower := strings.ToLower(h)
	var b strings.Builder
	changed := false
	for i := 0; i < len(lower); i++ {
		c := lower[i]
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('_')
		changed = true
	}
	tok := b.String()
	if len(tok) > maxTokenLen {
		tok = tok[:maxTokenLen-7]
		changed = true
	}
	if changed {
		sum := sha256.Sum256([]byte(h))
		tok = tok + "-" + hex.EncodeToString(sum[:3])
	}
	return tok, nil
}

// ValidToken reports whether s may be used as a single subject token
// (a host token, release or state): non-empty, at most 64 bytes, [A-Za-z0-9-_].
func ValidToken(s string) bool {
	if s == "" || len(s) > maxTokenLen+7 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Subjects builds and parses the subjects under one prefix.
type Subjects struct{ Prefix string }

// NewSubjects returns the subject builder for prefix ("" means DefaultPrefix).
func NewSubjects(prefix string) (Subjects, error) {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	for _, tok := range strings.Split(prefix, ".") {
		if !ValidToken(tok) {
			return Subjects{}, fieldErr("subject_prefix", fmt.Sprintf("%q is not a valid NATS subject prefix", prefix))
		}
	}
	return Subjects{Prefix: prefix}, nil
}

func (s Subjects) p() string {
	if s.Prefix == "" {
		return DefaultPrefix
	}
	return s.Prefix
}

// Health is <prefix>.host.<host>.health.
func (s Subjects) Health(host string) string { return s.p() + ".host." + host + ".health" }

// AllHealth matches every host's health subject.
func (s Subjects) AllHealth() string { return s.p() + ".host.*.health" }

// Command is <prefix>.cmd.<host>.<verb>.
func (s Subjects) Command(host, verb string) string { return s.p() + ".cmd." + host + "." + verb }

// HostCommands matches every command for one host.
func (s Subjects) HostCommands(host string) string { return s.p() + ".cmd." + host + ".*" }

// Build is <prefix>.build.<release>.<state>.
func (s Subjects) Build(release string, state BuildState) string {
	return s.p() + ".build." + release + "." + string(state)
}

// Prune is <prefix>.prune.<host>.<result>.
func (s Subjects) Prune(host string, result PruneResult) string {
	return s.p() + ".prune." + host + "." + string(result)
}

// Readiness is <prefix>.fleet.readiness.
func (s Subjects) Readiness() string { return s.p() + ".fleet.readiness" }

// StreamSubjects are the subjects the VMFLEET stream keeps.
func (s Subjects) StreamSubjects() []string {
	return []string{s.p() + ".host.>", s.p() + ".build.>", s.p() + ".prune.>"}
}

// All matches every vmfleet subject.
func (s Subjects) All() string { return s.p() + ".>" }

// Parsed is a subject taken apart.
type Parsed struct {
	Kind Kind
	// Host is set for health, command and prune subjects.
	Host string
	// Verb is set for command subjects.
	Verb string
	// Release and State are set for build subjects.
	Release string
	State   string
	// Result is set for prune subjects.
	Result string
}

// Parse takes a subject apart. It fails on any subject that is not one of
// vmfleet's, naming what is wrong.
func (s Subjects) Parse(subject string) (Parsed, error) {
	rest, ok := strings.CutPrefix(subject, s.p()+".")
	if !ok {
		return Parsed{}, fieldErr("subject", fmt.Sprintf("%q is not under prefix %q", subject, s.p()))
	}
	toks := strings.Split(rest, ".")
	for _, t := range toks {
		if !ValidToken(t) {
			return Parsed{}, fieldErr("subject", fmt.Sprintf("%q has an invalid token %q", subject, t))
		}
	}
	bad := fieldErr("subject", fmt.Sprintf("%q is not a vmfleet subject", subject))
	switch {
	case len(toks) == 3 && toks[0] == "host" && toks[2] == "health":
		return Parsed{Kind: KindHealth, Host: toks[1]}, nil
	case len(toks) == 3 && toks[0] == "cmd":
		return Parsed{Kind: KindCommand, Host: toks[1], Verb: toks[2]}, nil
	case len(toks) == 3 && toks[0] == "build":
		return Parsed{Kind: KindBuild, Release: toks[1], State: toks[2]}, nil
	case len(toks) == 3 && toks[0] == "prune":
		return Parsed{Kind: KindPrune, Host: toks[1], Result: toks[2]}, nil
	case len(toks) == 2 && toks[0] == "fleet" && toks[1] == "readiness":
		return Parsed{Kind: KindReadiness}, nil
	case len(toks) == 2 && toks[0] == "fleet" && toks[1] == "drift":
		return Parsed{Kind: KindDrift}, nil
	case len(toks) == 2 && toks[0] == "fleet" && toks[1] == "spec":
		return Parsed{Kind: KindSpecChange}, nil
	case len(toks) == 2 && toks[0] == "fleet" && toks[1] == "forget":
		return Parsed{Kind: KindForget}, nil
	case len(toks) == 2 && toks[0] == "fleet" && toks[1] == "drain":
		return Parsed{Kind: KindDrain}, nil
	}
	return Parsed{}, bad
}
