package redact

import (
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
)

// Mask is what a secret prints as.
const Mask = "[REDACTED]"

// Secret is a string that never prints: fmt (every verb), slog, JSON, YAML and
// text marshaling all give Mask; an empty Secret prints as "". Reveal returns
// the value.
type Secret string

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) masked() string {
	if s == "" {
		return ""
	}
	return Mask
}

// String implements fmt.Stringer.
func (s Secret) String() string { return s.masked() }

// GoString implements fmt.GoStringer (%#v).
func (s Secret) GoString() string { return fmt.Sprintf("%q", s.masked()) }

// Format makes every verb (%s, %q, %x, %v, ...) print the mask.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, s.GoString())
		return
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), s.masked())
}

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.masked()) }

// MarshalText implements encoding.TextMarshaler (JSON, YAML).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.masked()), nil }

// urlUserinfo matches "scheme://user:password@" and "scheme://token@".
var urlUserinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)([^/@\s]*)@`)

// URL masks the userinfo of a URL: "nats://u:pw@h" → "nats://u:[REDACTED]@h",
// "nats://token@h" → "nats://[REDACTED]@h". Text without userinfo is returned
// as it is.
func URL(u string) string { return scrubURLs(u) }

// URLs masks each URL and joins them with commas.
func URLs(us []string) string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = URL(u)
	}
	return strings.Join(out, ",")
}

// HasUserinfo reports whether u carries a user, password or token.
func HasUserinfo(u string) bool {
	if p, err := url.Parse(u); err == nil && p.User != nil {
		return true
	}
	return urlUserinfo.MatchString(u)
}

func scrubURLs(s string) string {
	if !strings.Contains(s, "://") || !strings.Contains(s, "@") {
		return s
	}
	return urlUserinfo.ReplaceAllStringFunc(s, func(m string) string {
		sub := urlUserinfo.FindStringSubmatch(m)
		scheme, info := sub[1], sub[2]
		if user, _, ok := strings.Cut(info, ":"); ok {
			return scheme + user + ":" + Mask + "@"
		}
		return scheme + Mask + "@"
	})
}
